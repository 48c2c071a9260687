using System.Diagnostics;
using MirrorKv.Protocol;
using MirrorKv.Transport;
using Microsoft.Extensions.Logging;

namespace MirrorKv.Adapter;

/// <summary>
/// Failure handling of a node: heartbeats on the peer link, a primary fencing itself when its secondary
/// falls silent, and a secondary promoting itself when its primary is gone.
/// </summary>
/// <remarks>
/// A pair cannot tell a dead peer from a cut link by itself, so silence and resets are read differently.
/// A reset (the peer's kernel closed the connection) means the peer process is gone: the primary goes on
/// alone, the secondary promotes at once. Silence may be a partition: the primary stops taking writes after
/// <see cref="NodeOptions.FenceAfter"/> and stops serving reads, and the secondary promotes only after twice
/// that, so that the two never take writes at the same time. See docs/failover.md.
/// </remarks>
public sealed partial class MirrorKvNode
{
    internal void TouchPeer() => Volatile.Write(ref _lastPeerFrame, Stopwatch.GetTimestamp());

    internal void OnPeerHeartbeat(IConnection connection, ReadOnlySpan<byte> payload)
    {
        if (Heartbeat.TryRead(payload, out Heartbeat heartbeat) != WireStatus.Ok)
        {
            connection.Fail(WireStatus.MalformedFrame, $"HEARTBEAT payload must be {Heartbeat.Size} bytes with reserved bytes 0");
            return;
        }

        if (_peerRole != heartbeat.Role && heartbeat.Role == NodeRole.Secondary)
        {
            LogProtected(heartbeat.Lsn);
        }

        _peerRole = heartbeat.Role;
        if (heartbeat.Epoch > Epoch)
        {
            Fence($"the peer is at epoch {heartbeat.Epoch}, above this node's {Epoch}: it was promoted");
        }
    }

    /// <summary>A client or peer presented a newer epoch: this node has been replaced and steps down.</summary>
    internal void OnNewerEpochSeen(ulong epoch) => Fence($"a request carried epoch {epoch}, above this node's {Epoch}: this node has been replaced");

    private void StartHeartbeats() =>
        _heartbeats = new Timer(static s => ((MirrorKvNode)s!).OnHeartbeatTick(), this, Options.HeartbeatInterval, Options.HeartbeatInterval);

    private void OnHeartbeatTick()
    {
        try
        {
            NodeRole role = Role;
            if (role == NodeRole.Primary && Log.Peer is { IsOpen: true } peer)
            {
                // A secondary that talks but does not acknowledge holds every sync write: treat it as silent.
                if (Stopwatch.GetElapsedTime(Volatile.Read(ref _lastPeerFrame)) > Options.FenceAfter || _waiters.OldestWait > Options.FenceAfter)
                {
                    // Only a caught-up secondary can promote itself; a silent one that is still copying cannot,
                    // so it is dropped and the primary goes on alone rather than stop taking writes.
                    if (_peerRole == NodeRole.Secondary)
                    {
                        Fence($"no frame or no acknowledgement from the secondary for {Options.FenceAfter.TotalMilliseconds:F0} ms: it may be cut off and promoting");
                    }
                    else
                    {
                        peer.Abort(new TimeoutException("the joining secondary went silent or stopped acknowledging"));
                    }

                    return;
                }

                new Heartbeat(Epoch, role, Log.LastLsn).Write(peer.BeginPost(Opcode.Heartbeat, WireStatus.Ok, 0, Heartbeat.Size));
                peer.EndPost();
                peer.Flush();
            }
            else if (role is NodeRole.Secondary or NodeRole.Rejoining && _link is { } link)
            {
                if (role == NodeRole.Secondary && link.IsConnected && link.Silence > Options.PromoteAfter)
                {
                    link.Abandon();
                    OnPrimaryLost($"no frame from the primary for {Options.PromoteAfter.TotalMilliseconds:F0} ms");
                    return;
                }

                link.SendHeartbeat();
            }
        }
        catch (ConnectionClosedException)
        {
            // The link closed between the check and the post; its close handler takes over.
        }
    }

    private void OnPrimaryLost(string reason)
    {
        lock (_haLock)
        {
            (NodeRole role, ulong epoch) = _role.Current;
            if (role != NodeRole.Secondary || _link is null)
            {
                return;
            }

            if (_link.Diverged)
            {
                LogNotPromoting(reason);
                return;
            }

            _role.TransitionTo(NodeRole.Promoting, epoch + 1, reason);
            Store.Promote();
            Volatile.Write(ref _secondaryEndPoint, null);
            _role.TransitionTo(NodeRole.Primary, epoch + 1, $"promoted at LSN {_link.AppliedLsn}: taking writes, unprotected until a secondary joins");
        }
    }

    private void Fence(string reason)
    {
        lock (_haLock)
        {
            (NodeRole role, ulong epoch) = _role.Current;
            if (role == NodeRole.Stopped)
            {
                return;
            }

            // No write and no read from here on: the region is withdrawn, so one-sided readers fail over too.
            _role.TransitionTo(NodeRole.Stopped, epoch, $"fenced: {reason}");
            _registry.Deregister(Store.Region.RKey);
            _waiters.FailAll(WireStatus.ReplicationFailed, "the primary fenced itself before the secondary confirmed this write; it may not survive");
            Log.Peer?.Abort(null);
        }
    }

    /// <summary>What STATUS reports.</summary>
    public NodeStatus DescribeStatus()
    {
        (NodeRole role, ulong epoch) = _role.Current;
        ulong lsn = Lsn;
        ulong acked = role == NodeRole.Primary ? Math.Min(AckedLsn, lsn) : lsn;
        System.Net.IPEndPoint? peer = role == NodeRole.Primary ? Volatile.Read(ref _secondaryEndPoint) : Options.PrimaryEndPoint;
        return new NodeStatus(role, IsProtected, epoch, lsn, acked, (ulong)Store.GetStats().Entries, peer);
    }

    /// <summary>A joining secondary asks which slabs to copy.</summary>
    internal void DescribeSlabs(IConnection connection, ulong requestId)
    {
        IReadOnlyList<(int Slab, int SlotSize)> layout = Store.GetClaimedSlabLayout();
        var slabs = new (ulong, uint)[layout.Count];
        for (int i = 0; i < slabs.Length; i++)
        {
            slabs[i] = (Store.Region.AddressOf((ulong)layout[i].Slab * (ulong)Store.Options.SlabSize), (uint)layout[i].SlotSize);
        }

        SlabsMessages.WriteReply(connection.BeginPost(Opcode.Slabs | Opcode.ReplyBit, WireStatus.Ok, requestId, SlabsMessages.ReplySize(slabs.Length)), (uint)Store.Options.SlabSize, slabs);
        connection.EndPost();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "the secondary has copied everything (its LSN {Lsn}): the pair is protected")]
    private partial void LogProtected(ulong lsn);

    [LoggerMessage(Level = LogLevel.Critical, Message = "primary lost ({Reason}), but this replica stopped following the stream earlier and will not promote itself")]
    private partial void LogNotPromoting(string reason);
}
