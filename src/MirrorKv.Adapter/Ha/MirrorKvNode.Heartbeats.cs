using MirrorKv.Protocol;
using MirrorKv.Transport;
using Microsoft.Extensions.Logging;

namespace MirrorKv.Adapter;

/// <summary>
/// Heartbeats on the peer link: the primary's carry its lease stamp and whether it counts the secondary as
/// caught up; the secondary's echo the last stamp, which renews the primary's lease.
/// </summary>
/// <remarks>
/// One timer per node drives it. Each tick first checks whether this process itself stood still (a pause,
/// a VM freeze): a secondary does not count its own pause as the primary's silence, and a primary's lease
/// check comes before anything else it does. See docs/failover.md.
/// </remarks>
public sealed partial class MirrorKvNode
{
    private long _lastTick;
    private bool _sentProtected;
    private volatile bool _peerSawProtected;

    internal void TouchPeer() => Volatile.Write(ref _lastPeerFrame, _time.GetTimestamp());

    /// <summary>A HEARTBEAT from the secondary, on the primary's side of the link.</summary>
    internal void OnPeerHeartbeat(IConnection connection, ReadOnlySpan<byte> payload)
    {
        if (Heartbeat.TryRead(payload, out Heartbeat heartbeat) != WireStatus.Ok)
        {
            connection.Fail(WireStatus.MalformedFrame, $"HEARTBEAT payload must be {Heartbeat.Size} bytes with reserved bytes 0");
            return;
        }

        if (heartbeat.Epoch > Epoch)
        {
            // The announcement of a promotion (or a heartbeat of a secondary that already promoted).
            FenceReplaced($"the peer is {heartbeat.Role} at epoch {heartbeat.Epoch}, above this node's {Epoch}: it was promoted", Volatile.Read(ref _secondaryEndPoint));
            return;
        }

        NodeRole wasRole = _peerRole;
        _peerRole = heartbeat.Role;
        _peerSawProtected = heartbeat.Protected;
        if (wasRole != NodeRole.Secondary && heartbeat.Role == NodeRole.Secondary && Role == NodeRole.Primary)
        {
            // Tell it at once that it counts as caught up (with a witness, once etcd names it): until it hears
            // so, it may not promote.
            OnSecondaryCaughtUp(connection, heartbeat.Lsn);
        }

        if (heartbeat.Role is NodeRole.Secondary or NodeRole.Rejoining && heartbeat.Epoch == Epoch && _lease.Renew((long)heartbeat.LeaseStamp))
        {
            Resume(connection);
        }
    }

    private void StartHeartbeats()
    {
        // Counted from here: the handshake and the copy before it are not a pause.
        Volatile.Write(ref _lastTick, _time.GetTimestamp());
        _heartbeats = _time.CreateTimer(static s => ((MirrorKvNode)s!).OnHeartbeatTick(), this, Options.HeartbeatInterval, Options.HeartbeatInterval);
    }

    private void OnHeartbeatTick()
    {
        long now = _time.GetTimestamp();
        TimeSpan sinceLastTick = _time.GetElapsedTime(Interlocked.Exchange(ref _lastTick, now), now);
        bool stoodStill = sinceLastTick > Options.FenceAfter;
        try
        {
            (NodeRole role, ulong epoch) = _role.Current;
            if (role is NodeRole.Primary or NodeRole.Fenced)
            {
                TickAsPrimary(role, epoch);
            }
            else if (role is NodeRole.Secondary or NodeRole.Rejoining && _link is { } link)
            {
                TickAsSecondary(role, link, stoodStill, sinceLastTick);
            }
        }
        catch (ConnectionClosedException)
        {
            // The link closed between the check and the post; its close handler takes over.
        }
    }

    private void TickAsPrimary(NodeRole role, ulong epoch)
    {
        if (role == NodeRole.Primary && (!CheckLease() || !IsServingPrimary))
        {
            // Fenced here or by another thread since the role was read: heartbeats say so.
            role = NodeRole.Fenced;
        }

        // A fenced primary keeps its heartbeats going while the link holds: the secondary's echo may renew
        // its lease, and the secondary learns from them that it is fenced.
        if (Stream.Peer is not { IsOpen: true } peer || _fence == FenceKind.Replaced)
        {
            WatchForStalePrimary(role, epoch);
            return;
        }

        TimeSpan silence = _time.GetElapsedTime(Volatile.Read(ref _lastPeerFrame));
        if (!_sentProtected && silence > Options.FenceAfter)
        {
            // A joining secondary that went silent: it could not have promoted (it was never told the pair is
            // protected), so it is dropped and the primary goes on alone.
            Drop(peer, epoch, "the joining secondary went silent");
            return;
        }

        if (role == NodeRole.Fenced && _fence == FenceKind.LeaseLapsed && silence > Options.PromoteAfter * SilentLinkPromotions)
        {
            // Nothing from the secondary for several times its promotion time: it has promoted, it is not running, or
            // it is paused. The link may be a black hole (a cut that drops packets), whose close would reach this node
            // only with TCP's next retransmission, tens of seconds after a long cut heals, and the pair would stay
            // unprotected that long; its endpoint tells which (CheckSilentSecondaryAsync).
            CheckSilentSecondary(peer, silence);
        }

        if (role == NodeRole.Primary && _coordinator is not null && _lease.WitnessValid && (silence > Options.FenceAfter || _waiters.StalledFor > Options.FenceAfter))
        {
            // With a witness a silent secondary cannot take over behind our back (etcd holds our key): drop it
            // and go on alone instead of stopping, so a secondary's pause or silent death costs no availability.
            Drop(peer, epoch, $"the secondary has been silent or not acknowledging for {Options.FenceAfter.TotalMilliseconds:F0} ms; the etcd lease holds");
            return;
        }

        if (role == NodeRole.Primary && _sentProtected && _waiters.StalledFor > Options.FenceAfter)
        {
            // It renews the lease but applies nothing: every sync write hangs. (One that applies slowly, behind a
            // backlog of large values its heartbeats overtake, keeps acknowledging something and is left alone.) Give up the role; the secondary
            // sees the link close and promotes, and this node rejoins it.
            FenceReplaced($"the secondary has not acknowledged a write for {Options.FenceAfter.TotalMilliseconds:F0} ms though it is alive", Volatile.Read(ref _secondaryEndPoint));
            return;
        }

        ulong handover = Volatile.Read(ref _handoverLsn);
        if (_fence == FenceKind.Handover && handover != 0)
        {
            // Repeated until the secondary takes over (its announcement ends this): a lost or early one costs a tick.
            PostHeartbeat(peer, new Heartbeat(epoch, NodeRole.Fenced, handover, (ulong)_lease.Stamp(), Protected: true, Handover: true));
            peer.Flush();
            return;
        }

        SendHeartbeat(peer, role, epoch);
    }

    // The dropped flag goes first, then a close after it: a secondary that resumes reads it before the close
    // and rejoins, where a bare reset would have it take the primary for dead.
    private void Drop(IConnection peer, ulong epoch, string reason)
    {
        LogDropping(reason);
        try
        {
            PostHeartbeat(peer, new Heartbeat(epoch, NodeRole.Primary, Stream.LastLsn, (ulong)_lease.Stamp(), Dropped: true));
            peer.CloseAfterFlush();
        }
        catch (ConnectionClosedException)
        {
        }

        // Its close may take a while (a paused peer reads nothing): stop waiting for it now.
        OnSecondaryLost(peer, new TimeoutException(reason));
    }

    // How many promotion times (NodeOptions.PromoteAfter, 1 s by default) a fenced primary's link may stay silent.
    private const int SilentLinkPromotions = 5;

    private int _checkingSilentSecondary;
    private long _lastSilentSecondaryCheck;
    private bool _loggedPausedSecondary;

    // Once a second at most, off the timer: ask the silent secondary's endpoint. A node that answers runs, so a link
    // that has said nothing for seconds is dead; a refused connection means its process is gone; a connection that
    // neither opens nor is refused went into a black hole (or a host that is down). In these cases this node lets go
    // of the link. A host that accepts the connection but whose node does not answer holds a paused process: its
    // kernel still takes the link's bytes, so the link is no black hole, and the secondary resumes on it without a
    // promotion (an operator's experiment: a secondary paused 10 s took over on resume when it found the link cut).
    private void CheckSilentSecondary(IConnection peer, TimeSpan silence)
    {
        long last = Volatile.Read(ref _lastSilentSecondaryCheck);
        if (last != 0 && _time.GetElapsedTime(last) < TimeSpan.FromSeconds(1) || Interlocked.Exchange(ref _checkingSilentSecondary, 1) != 0)
        {
            return;
        }

        Volatile.Write(ref _lastSilentSecondaryCheck, _time.GetTimestamp());
        _ = CheckSilentSecondaryAsync(peer, silence);
    }

    private async Task CheckSilentSecondaryAsync(IConnection peer, TimeSpan silence)
    {
        try
        {
            if (_transport is not { } transport || Volatile.Read(ref _secondaryEndPoint) is not { } endPoint)
            {
                return;
            }

            ((NodeRole Role, ulong Epoch)? answer, bool refused, bool connected) = await NodeProbe.ProbeAsync(transport, endPoint, Options.Secret, TimeSpan.FromMilliseconds(500), CancellationToken.None).ConfigureAwait(false);
            // A node that answers as this pair's secondary at this epoch runs and has not promoted: the link's silence
            // is its loop's (starved, or behind a flood), not a black hole's, and letting go would only force a
            // failover onto it. Kept, as for a paused one.
            if (connected && answer is null && !refused || answer is { Role: NodeRole.Secondary or NodeRole.Rejoining } running && running.Epoch == Epoch)
            {
                if (!_loggedPausedSecondary)
                {
                    _loggedPausedSecondary = true;
                    LogSecondaryPaused(endPoint.ToString(), silence.TotalMilliseconds);
                }

                return;
            }

            lock (_haLock)
            {
                if (Stream.Peer == peer && Role == NodeRole.Fenced && _fence == FenceKind.LeaseLapsed)
                {
                    string why = answer is { } a ? $"it answers as {a.Role} at epoch {a.Epoch}" : refused ? "its endpoint refuses connections" : "its endpoint does not accept connections either";
                    LetGoOfSilentSecondary(peer, $"nothing from the secondary for {silence.TotalMilliseconds:F0} ms while fenced, and {why}");
                }
            }
        }
        finally
        {
            Volatile.Write(ref _checkingSilentSecondary, 0);
        }
    }

    // Unlike Drop, no word goes first: this node is fenced and its secondary may be the primary now, so it is not
    // told to rejoin here. A secondary that was only paused finds the link closed and takes over; this node rejoins it.
    private void LetGoOfSilentSecondary(IConnection peer, string reason)
    {
        LogLettingGo(reason);
        var silent = new TimeoutException(reason);
        peer.Abort(silent);
        OnSecondaryLost(peer, silent);
    }

    private void SendHeartbeat(IConnection peer, NodeRole role, ulong epoch)
    {
        // Marked before it leaves: from here on the secondary may promote, so this node may not go on alone.
        bool isProtected = _peerRole == NodeRole.Secondary && InSyncRecordedFor(peer);
        _sentProtected |= isProtected;

        // Urgent: the stamp's worth is its age when the echo comes back, and records queued ahead of it (large values,
        // a burst) could hold it longer than the lease lasts though the secondary is alive and applying. Nothing in it
        // depends on the records before it: the LSN is informative, and "protected" may reach the secondary early.
        Span<byte> payload = stackalloc byte[Heartbeat.Size];
        new Heartbeat(epoch, role, Stream.LastLsn, (ulong)_lease.Stamp(), isProtected).Write(payload);
        peer.PostUrgent(Opcode.Heartbeat, WireStatus.Ok, 0, payload);
    }

    private static void PostHeartbeat(IConnection peer, in Heartbeat heartbeat)
    {
        heartbeat.Write(peer.BeginPost(Opcode.Heartbeat, WireStatus.Ok, 0, Heartbeat.Size));
        peer.EndPost();
    }

    private void TickAsSecondary(NodeRole role, SecondaryLink link, bool stoodStill, TimeSpan sinceLastTick)
    {
        if (stoodStill)
        {
            // This process did not run for a while: the primary's silence is ours, not its. Start counting
            // again; what it sent meanwhile is in the socket and will be read now.
            link.ForgiveSilence();
            LogStoodStill(sinceLastTick.TotalMilliseconds);
        }
        else if (role == NodeRole.Secondary && link.IsConnected && link.Silence > Options.PromoteAfter)
        {
            OnPrimaryLost($"no frame from the primary for {Options.PromoteAfter.TotalMilliseconds:F0} ms");
            return;
        }
        else if (role == NodeRole.Secondary && link.IsConnected && link.PrimaryFencedFor > Options.PromoteAfter && link.SinceEchoedStamp > Options.PromoteAfter)
        {
            // The primary is alive but cannot renew its lease from our heartbeats (a link cut one way): it
            // serves nothing, and it never will again once we promote (it renews only from a secondary).
            OnPrimaryLost($"the primary has been fenced for {Options.PromoteAfter.TotalMilliseconds:F0} ms: our heartbeats do not reach it");
            return;
        }

        link.SendHeartbeat();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "the secondary has copied everything (its LSN {Lsn}): the pair is protected")]
    private partial void LogProtected(ulong lsn);

    [LoggerMessage(Level = LogLevel.Warning, Message = "letting go of the link to the secondary: {Reason}; it has promoted or is not running, and a silent link may be a black hole: asking its endpoint instead until this node can rejoin")]
    private partial void LogLettingGo(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "the secondary has been silent for {Milliseconds:F0} ms, but its host accepts connections at {EndPoint} (a paused process, or one that runs and has not promoted): keeping the link, on which it resumes")]
    private partial void LogSecondaryPaused(string endPoint, double milliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "dropping the secondary: {Reason}")]
    private partial void LogDropping(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "this process did not run for {Milliseconds:F0} ms (paused, frozen or starved): the primary's silence meanwhile is not counted")]
    private partial void LogStoodStill(double milliseconds);
}
