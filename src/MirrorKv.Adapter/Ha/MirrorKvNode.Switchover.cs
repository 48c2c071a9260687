using MirrorKv.Protocol;
using MirrorKv.Transport;
using Microsoft.Extensions.Logging;

namespace MirrorKv.Adapter;

/// <summary>
/// Switchover, the planned failover (SWITCHOVER, <c>mirrorkv switchover</c>): the primary stops serving, waits
/// until its secondary has confirmed every write, and hands the pair over with a heartbeat flag; the secondary
/// promotes at once (with a witness, through etcd, where it is recorded in sync) and the old primary rejoins
/// it as its secondary. No write is lost and none fails: writes that were waiting for the ack are answered
/// as usual, and writes that arrive meanwhile are refused NotPrimary, which clients follow to the new primary.
/// </summary>
public sealed partial class MirrorKvNode
{
    // The LSN the pair is handed over at; 0 while no handover has been sent.
    private ulong _handoverLsn;

    /// <summary>SWITCHOVER from <paramref name="connection"/>: answered once the handover is sent, or with why not.</summary>
    internal void OnSwitchover(IConnection connection, ulong requestId, ReadOnlySpan<byte> payload)
    {
        if (SwitchoverMessages.TryReadRequest(payload, out TimeSpan timeout) != WireStatus.Ok)
        {
            Replies.Error(connection, Opcode.Switchover, requestId, WireStatus.MalformedFrame, $"SWITCHOVER payload must be {SwitchoverMessages.RequestSize} bytes: timeout ms u32, reserved u32 (0)");
            return;
        }

        _ = SwitchoverAsync(connection, requestId, timeout == TimeSpan.Zero ? Options.SwitchoverTimeout : timeout);
    }

    private async Task SwitchoverAsync(IConnection connection, ulong requestId, TimeSpan timeout)
    {
        ulong epoch;
        IConnection peer;
        lock (_haLock)
        {
            (NodeRole role, epoch) = _role.Current;
            string? refusal = role != NodeRole.Primary ? null
                : _fence != FenceKind.None ? "a switchover is already under way"
                : !IsProtected || Stream.Peer is not { IsOpen: true } ? "the pair is not protected: there is no caught-up secondary to hand over to"
                : null;
            if (role != NodeRole.Primary || refusal is not null)
            {
                Reply(connection, requestId, role != NodeRole.Primary ? WireStatus.NotPrimary : WireStatus.SwitchoverRefused, refusal ?? $"this node is {role}; send SWITCHOVER to the primary");
                return;
            }

            peer = Stream.Peer!;

            // From here no write and no read is served (one-sided readers fail over to the secondary, which
            // holds every acknowledged write); the writes already waiting for their ack keep waiting.
            _fence = FenceKind.Handover;
            _role.TransitionTo(NodeRole.Fenced, epoch, "switchover: handing over to the secondary");
            _registry.Withdraw();
        }

        long started = _time.GetTimestamp();
        ulong lsn = Stream.LastLsn;
        while (_waiters.AckedLsn < lsn || _waiters.Count > 0)
        {
            if (_time.GetElapsedTime(started) > timeout || !peer.IsOpen || _fence != FenceKind.Handover)
            {
                string why = _fence != FenceKind.Handover ? "the node was fenced meanwhile"
                    : !peer.IsOpen ? "the link to the secondary closed"
                    : $"the secondary did not confirm LSN {lsn} within {timeout.TotalMilliseconds:F0} ms (it confirmed {_waiters.AckedLsn})";
                lock (_haLock)
                {
                    if (_fence == FenceKind.Handover && peer.IsOpen)
                    {
                        Unfence(epoch, $"switchover abandoned: {why}");
                    }
                }

                LogSwitchoverAbandoned(why);
                Reply(connection, requestId, WireStatus.SwitchoverRefused, $"switchover abandoned: {why}");
                return;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(1), _time).ConfigureAwait(false);
        }

        // The secondary holds everything. With a witness, the leader key goes first, so that its claim (it is
        // recorded in sync) need not wait for the TTL.
        if (_coordinator is { } coordinator)
        {
            await coordinator.ResignAsync().ConfigureAwait(false);
        }

        Volatile.Write(ref _handoverLsn, lsn);
        LogHandingOver(lsn, _time.GetElapsedTime(started).TotalMilliseconds);
        try
        {
            PostHeartbeat(peer, new Heartbeat(epoch, NodeRole.Fenced, lsn, (ulong)_lease.Stamp(), Protected: true, Handover: true));
            peer.Flush();
        }
        catch (ConnectionClosedException)
        {
            // The secondary saw the close and takes over as after any loss of its primary.
        }

        try
        {
            SwitchoverMessages.WriteReply(connection.BeginPost(Opcode.Switchover | Opcode.ReplyBit, WireStatus.Ok, requestId, SwitchoverMessages.ReplySize), epoch, lsn);
            connection.EndPost();
            connection.Flush();
        }
        catch (ConnectionClosedException)
        {
        }
    }

    // The primary handed the pair over (its heartbeat said so): take over now. It stopped serving for good
    // and this node confirmed everything, so neither the promotion timeout nor a lease of the old primary
    // is waited for.
    private void OnHandoverOffered(ulong lsn)
    {
        lock (_haLock)
        {
            (NodeRole role, ulong epoch) = _role.Current;
            if (role != NodeRole.Secondary || _link is not { } link || link.Dropped || link.Diverged || !link.SawProtected || link.AppliedLsn < lsn)
            {
                LogHandoverDeclined(lsn, role.ToString(), _link?.AppliedLsn ?? 0);
                return;
            }

            if (_coordinator is not null)
            {
                _ = TakeOverAsync("the primary handed over (switchover)", reset: true);
            }
            else
            {
                PromoteLocally(epoch + 1, "the primary handed over (switchover)");
            }
        }
    }

    private static void Reply(IConnection connection, ulong requestId, WireStatus status, string message)
    {
        try
        {
            Replies.Error(connection, Opcode.Switchover, requestId, status, message);
            connection.Flush();
        }
        catch (ConnectionClosedException)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "switchover: the secondary holds every write up to LSN {Lsn} ({Waited:F1} ms after writes stopped); handing the pair over")]
    private partial void LogHandingOver(ulong lsn, double waited);

    [LoggerMessage(Level = LogLevel.Warning, Message = "switchover abandoned: {Why}; serving again")]
    private partial void LogSwitchoverAbandoned(string why);

    [LoggerMessage(Level = LogLevel.Warning, Message = "a handover at LSN {Lsn} was offered but not taken: this node is {Role} at LSN {Applied}")]
    private partial void LogHandoverDeclined(ulong lsn, string role, ulong applied);
}
