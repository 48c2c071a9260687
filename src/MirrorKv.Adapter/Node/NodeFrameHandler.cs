using System.Collections.Concurrent;
using MirrorKv.Protocol;
using MirrorKv.Transport;
using Microsoft.Extensions.Logging;

namespace MirrorKv.Adapter;

/// <summary>
/// Everything that arrives on connections accepted by a node: the handshake, then each frame dispatched
/// to the verbs engine (one-sided path) or the HA module (two-sided path), replies flushed once per batch.
/// </summary>
internal sealed partial class NodeFrameHandler(MirrorKvNode node, VerbsEngine verbs, TwoSidedPath twoSided, SlotTransferPath? slotMoves, ILogger logger) : IMessageHandler
{
    private readonly ConcurrentDictionary<IConnection, byte> _open = new();
    private int _refusedConnections;
    private const int RefusalLinesPerSweep = 20;
    private int _refusalLogBudget = RefusalLinesPerSweep;
    private int _refusalsSuppressed;

    public ICollection<IConnection> OpenConnections => _open.Keys;

    public void OnOpened(IConnection connection)
    {
        // Raised to the node's maximum once the handshake is done (Welcome).
        connection.MaxFrameSize = ProtocolLimits.MaxHandshakeFrameSize;
        if (_open.Count >= node.Options.MaxConnections)
        {
            // No state: frames that still arrive before the close are ignored. Logged once a second, not per
            // connection, so that a flood cannot flood the log too.
            Interlocked.Increment(ref _refusedConnections);
            Interlocked.Increment(ref node.Counters.ConnectionsRefused);
            connection.Fail(WireStatus.TooManyConnections, $"this node already has {node.Options.MaxConnections} connections");
            return;
        }

        connection.State = new ConnectionState();
        connection.SendQueueLimit = node.Options.SendQueueLimit;
        _open.TryAdd(connection, 0);
    }

    public void OnFrame(IConnection connection, in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (connection.State is not ConnectionState state)
        {
            return;
        }

        if (header.IsReply)
        {
            Refuse(connection, WireStatus.MalformedFrame, $"a node takes requests here, not replies (opcode 0x{(byte)header.Opcode:x2})");
            return;
        }

        if (!state.Greeted)
        {
            if (header.Opcode == Opcode.Hello && state.Hello is null)
            {
                Hello(connection, state, header.RequestId, payload);
            }
            else if (header.Opcode == Opcode.Auth && state.Challenge is not null)
            {
                Auth(connection, state, header.RequestId, payload);
            }
            else
            {
                Refuse(connection, WireStatus.HandshakeRequired, state.Hello is null
                    ? $"the first frame must be HELLO, not opcode 0x{(byte)header.Opcode:x2}"
                    : $"the node asked for AUTH, not opcode 0x{(byte)header.Opcode:x2}");
            }

            return;
        }

        if (state.Kind == PeerKind.Peer)
        {
            node.TouchPeer();
        }

        switch (header.Opcode)
        {
            case Opcode.Heartbeat when state.Kind == PeerKind.Peer:
                node.OnPeerHeartbeat(connection, payload);
                break;
            // A 1.0 node served STATUS and SLABS whatever their payload, and ignored a DELETE's or LOOKUP's value:
            // so do we for 1.0 callers (docs/protocol.md, "Versions").
            case Opcode.Status when !state.SpeaksV1_0 && NodeStatus.TryReadRequest(payload) != WireStatus.Ok:
            case Opcode.Slabs when state.Kind == PeerKind.Peer && !state.SpeaksV1_0 && SlabsMessages.TryReadRequest(payload) != WireStatus.Ok:
                Replies.Error(connection, header.Opcode, header.RequestId, WireStatus.MalformedFrame, $"{header.Opcode} payload must be 8 reserved bytes, all 0");
                break;
            case Opcode.Status:
                node.DescribeStatus().Write(connection.BeginPost(Opcode.Status | Opcode.ReplyBit, WireStatus.Ok, header.RequestId, NodeStatus.Size));
                connection.EndPost();
                break;
            case Opcode.ClusterMap when ClusterMapMessages.TryReadRequest(payload, out _) != WireStatus.Ok:
                Replies.Error(connection, header.Opcode, header.RequestId, WireStatus.MalformedFrame, $"CLUSTER_MAP payload must be {ClusterMapMessages.RequestSize} bytes: the map version the caller has");
                break;
            case Opcode.ClusterMap when node.Cluster is { } cluster:
                cluster.DescribeMap(connection, header.RequestId, payload);
                break;
            case Opcode.ClusterMap:
                Replies.Error(connection, header.Opcode, header.RequestId, WireStatus.NoCluster, "this node serves a single pair, not a cluster: its keys are all its own");
                break;
            // Slot moves exist from 1.4 on, for a cluster's nodes: an older connection gets UnknownOpcode, as from an older node.
            case Opcode.SlotExport or Opcode.SlotImport or Opcode.SlotRetire when state.Kind == PeerKind.Client && state.ServesSlotMoves && slotMoves is not null:
                slotMoves.Handle(connection, state.MaxFrameSize, header.Opcode, header.RequestId, payload);
                break;
            case Opcode.SlotExport or Opcode.SlotImport or Opcode.SlotRetire when state.Kind == PeerKind.Client && state.ServesSlotMoves:
                Replies.Error(connection, header.Opcode, header.RequestId, WireStatus.NoCluster, "this node serves a single pair, not a cluster: it has no slots to move");
                break;
            case Opcode.Switchover when state.Kind == PeerKind.Client:
                node.OnSwitchover(connection, header.RequestId, payload);
                break;
            case Opcode.Slabs when state.Kind == PeerKind.Peer:
                node.DescribeSlabs(connection, header.RequestId);
                break;
            // GET exists from 1.2 on: an older connection gets UnknownOpcode for it, as from an older node.
            case Opcode.Get when !state.ServesGet:
                Replies.Error(connection, header.Opcode, header.RequestId, WireStatus.UnknownOpcode, $"opcode 0x{(byte)header.Opcode:x2} is not served on a {state.Kind} connection");
                break;
            case Opcode.FailoverRead or Opcode.Translation or Opcode.Lookup or Opcode.Get when node.Role is NodeRole.Rejoining or NodeRole.Fenced or NodeRole.Stopped:
                Replies.Error(connection, header.Opcode, header.RequestId, WireStatus.NotPrimary, node.Role == NodeRole.Rejoining
                    ? "this node is rejoining: it has not copied the primary's data yet"
                    : $"this node is {node.Role}: it serves nothing; ask the other node");
                break;
            // A secondary that cannot vouch for holding every acknowledged write may lack some: it serves no read
            // (READ answers as for a region it does not serve, so the client looks the key up, which it refuses
            // too, and the client asks the primary).
            case Opcode.Read when state.BatchReadsRefused:
                Replies.Error(connection, header.Opcode, header.RequestId, WireStatus.UnknownRKey, MirrorKvNode.ReadsRefusedText);
                break;
            case Opcode.FailoverRead or Opcode.Translation or Opcode.Lookup or Opcode.Get when state.BatchReadsRefused:
                Replies.Error(connection, header.Opcode, header.RequestId, WireStatus.NotPrimary, MirrorKvNode.ReadsRefusedText);
                break;
            // LOOKUP and GET at a secondary answer from its copy: the same rule as FAILOVER_READ (a client asks the
            // secondary when its primary is silent or gone). Checked again per request: the batch's check above was
            // taken at its start, and a dropped flag may have come since.
            case Opcode.Lookup or Opcode.Get when node.Role == NodeRole.Secondary && !node.HoldsEveryAcknowledgedWrite:
            case Opcode.FailoverRead when !node.HoldsEveryAcknowledgedWrite:
                // A caught-up secondary whose primary lives serves it too (hedged reads), but only while it can
                // vouch for holding every acknowledged write: see MirrorKvNode.HoldsEveryAcknowledgedWrite.
                Replies.Error(connection, header.Opcode, header.RequestId, WireStatus.NotPrimary, MirrorKvNode.ReadsRefusedText);
                break;
            case Opcode.Read:
                verbs.Read(connection, state, header.RequestId, payload);
                break;
            case Opcode.FailoverRead:
                verbs.FailoverRead(connection, state, header.RequestId, payload);
                break;
            case Opcode.Translation:
                verbs.Translation(connection, header.RequestId, payload);
                break;
            case Opcode.Delete or Opcode.Lookup or Opcode.Get when state.Kind == PeerKind.Client && !state.SpeaksV1_0 && KvRequest.CarriesValue(payload):
                Replies.Error(connection, header.Opcode, header.RequestId, WireStatus.MalformedFrame, $"{header.Opcode} carries no value: its value length must be 0");
                break;
            case Opcode.Get when state.Kind == PeerKind.Client:
                twoSided.Get(connection, state.MaxFrameSize, header.RequestId, payload);
                break;
            case Opcode.Write or Opcode.Update or Opcode.Delete or Opcode.Lookup when state.Kind == PeerKind.Client:
                state.BatchWrote |= header.Opcode != Opcode.Lookup;
                twoSided.Handle(connection, header.Opcode, header.RequestId, payload, ref state.WaitedForRoom);
                if (node.Stream.Peer is { IsCongested: true } peer)
                {
                    // The secondary reads slower than clients write: take no more writes until it catches up.
                    connection.HoldReceivesUntil(peer.WhenDrained());
                }

                break;
            case Opcode.Replicate:
                // Replication arrives on the link a secondary dials, never on an accepted connection.
                Replies.Error(connection, header.Opcode, header.RequestId, WireStatus.WriteNotAllowed, "this node's region is written only by its own replication link; REPLICATE is refused here");
                break;
            case Opcode.ReplicateAck when state.Kind == PeerKind.Peer:
                node.OnReplicateAck(connection, payload);
                break;
            case Opcode.ReadLease when state.Kind == PeerKind.Peer:
                node.OnReadLeaseRequest(connection, header.RequestId, payload);
                break;
            case Opcode.Hello or Opcode.Auth:
                // A 1.0 node answered both with HELLO's reply opcode (0x81); 1.0 callers still get it.
                Replies.Error(connection, state.SpeaksV1_0 ? Opcode.Hello : header.Opcode, header.RequestId, WireStatus.HandshakeRequired, $"{(header.Opcode == Opcode.Hello ? "HELLO" : "AUTH")} after the handshake is done");
                break;
            default:
                Replies.Error(connection, header.Opcode, header.RequestId, WireStatus.UnknownOpcode, $"opcode 0x{(byte)header.Opcode:x2} is not served on a {state.Kind} connection");
                break;
        }
    }

    public void OnBatchStart(IConnection connection, ReadOnlySpan<byte> frames)
    {
        // Before a single frame is served: a primary whose lease ran out (a pause, a cut link) fences here,
        // so that what follows is refused (writes NotPrimary, READs UnknownRKey).
        node.CheckLease();
        if (connection.State is ConnectionState { Greeted: true, Kind: PeerKind.Client } state)
        {
            // Noted for the batch's end: what a primary serves may leave only if it still is one then.
            state.BatchAsPrimary = node.IsServingPrimary;
            // A secondary serves no read it cannot vouch for, one-sided READs of its region included (a client
            // that rewrote its pointers from TRANSLATION reads there): with a witness, while its read lease does
            // not run; in pair mode, before it was told the pair is protected, or once dropped or diverged.
            state.BatchReadsRefused = node.Role == NodeRole.Secondary && !node.HoldsEveryAcknowledgedWrite;
            verbs.Prefetch(frames, state);
        }
    }

    public void OnBatchEnd(IConnection connection)
    {
        (connection.State as ConnectionState)?.FlushTallies(node.Counters);
        if (connection.State is ConnectionState { Kind: PeerKind.Client, BatchAsPrimary: true } && !node.LeaseHeldThroughBatch())
        {
            // The lease ran out while this batch was served (the process stood still in the middle of it), whichever
            // thread noticed it first: what it read may be stale, so none of its replies leave. The client
            // retries elsewhere.
            connection.Abort(new TimeoutException("the primary's lease ran out while serving this batch"));
            return;
        }

        // Writes in this batch posted REPLICATE records. They leave once the event loop has served every connection
        // ready with this one, in one send for all of them (as the RESP port does): with a few clients at pipeline 1,
        // writes that arrive together then share a send and the secondary's receive and ack (4 connections, 1 KiB
        // SETs: 13-29 % more writes a second, A/B in turns). Off an event loop it is sent at once. A batch without
        // writes leaves the stream alone: READs take no lock of the replication path (see BatchWrote).
        if (connection.State is ConnectionState { BatchWrote: true } wrote)
        {
            wrote.BatchWrote = false;
            node.Stream.FlushAfterDelivery();
            if (node.WhenBacklogApplied(connection) is { } applied)
            {
                // The secondary is a good part of a lease behind: this connection's next writes wait until it has
                // applied what was written so far (see NodeOptions.ReplicationBacklogLimit).
                connection.HoldReceivesUntil(applied);
            }
        }

        connection.Flush();
    }

    public void OnClosed(IConnection connection, Exception? error)
    {
        _open.TryRemove(connection, out _);
        (connection.State as ConnectionState)?.FlushTallies(node.Counters);
        if (connection.State is ConnectionState { Kind: PeerKind.Peer })
        {
            node.OnSecondaryLost(connection, error);
        }
        else if (error is not null)
        {
            LogClosed(connection.RemoteEndPoint.ToString() ?? "?", error.Message);
        }
    }

    private void Hello(IConnection connection, ConnectionState state, ulong requestId, ReadOnlySpan<byte> payload)
    {
        WireStatus status = HelloRequest.TryRead(payload, out HelloRequest hello);
        if (status != WireStatus.Ok)
        {
            Refuse(connection, status, status == WireStatus.UnsupportedProtocol
                ? $"bad magic or protocol version (this node speaks MKV1 versions {ProtocolVersion.V1_0} to {ProtocolVersion.Current})"
                : "malformed HELLO");
            return;
        }

        state.Hello = hello;
        state.Kind = hello.Kind;
        state.AdvertisedEndPoint = hello.AdvertisedEndPoint;
        state.MaxFrameSize = Math.Clamp(hello.MaxFrameSize, ProtocolLimits.MinMaxFrameSize, ProtocolLimits.MaxMaxFrameSize);
        if (SecretFor(hello.Kind) is not null)
        {
            state.Challenge = AuthProof.NewChallenge();
            connection.Post(Opcode.Hello | Opcode.ReplyBit, WireStatus.AuthRequired, requestId, state.Challenge);
            connection.Flush();
            return;
        }

        Welcome(connection, state, Opcode.Hello, requestId);
    }

    private void Auth(IConnection connection, ConnectionState state, ulong requestId, ReadOnlySpan<byte> payload)
    {
        if (!AuthProof.Verify(SecretFor(state.Kind), state.Kind, state.Challenge, payload))
        {
            Refuse(connection, WireStatus.AuthFailed, $"wrong proof of the {(state.Kind == PeerKind.Peer ? "peer" : "client")} secret");
            return;
        }

        state.Challenge = null;
        Welcome(connection, state, Opcode.Auth, requestId);
    }

    private byte[]? SecretFor(PeerKind kind) => kind == PeerKind.Peer ? node.Options.EffectivePeerSecret : node.Options.Secret;

    private void Welcome(IConnection connection, ConnectionState state, Opcode opcode, ulong requestId)
    {
        if (state.Kind == PeerKind.Peer && node.CanAttachSecondary(state.AdvertisedEndPoint, out string? refusal) is false)
        {
            Refuse(connection, WireStatus.NotPrimary, refusal!);
            return;
        }

        // The HELLO was accepted, so its major version is ours: answer the highest version both speak.
        ProtocolVersion version = ProtocolVersion.Negotiate(state.Hello!.Value.Version)!.Value;
        state.SpeaksV1_0 = version == ProtocolVersion.V1_0;
        state.ServesGet = version.Minor >= ProtocolVersion.V1_2.Minor;
        state.ServesSlotMoves = version.Minor >= ProtocolVersion.V1_4.Minor;
        state.Greeted = true;
        connection.MaxFrameSize = node.Options.MaxFrameSize;
        if (state.Kind == PeerKind.Peer)
        {
            // The peer link is trusted once authenticated; its backlog throttles clients instead (see writes).
            connection.SendQueueLimit = node.Options.PeerSendQueueLimit;
            connection.CongestionHoldsReceives = false;

            // The reply is described and posted as the stream attaches, so that its list of regions and the
            // stream's region records together name every chunk (see ReplicationStream.Attach).
            node.AttachSecondary(connection, state.AdvertisedEndPoint, state.Hello.Value.RespEndPoint, () => PostWelcome(connection, state, opcode, requestId, version));
        }
        else
        {
            PostWelcome(connection, state, opcode, requestId, version);
        }

        connection.Flush();
    }

    private void PostWelcome(IConnection connection, ConnectionState state, Opcode opcode, ulong requestId, ProtocolVersion version)
    {
        HelloReply reply = node.DescribeForHello() with { Version = version };
        if (state.Kind == PeerKind.Peer && state.Hello!.Value.HasRespEndPoint)
        {
            reply = reply with { HasRespEndPoint = true, RespEndPoint = node.AdvertisedRespEndPoint };
        }

        if (state.Kind == PeerKind.Peer && version.Minor >= ProtocolVersion.V1_6.Minor)
        {
            // So that a secondary that could not hold this node's data, or would keep it otherwise once promoted,
            // refuses to follow it (1.6).
            reply = reply with { Limits = PeerLimits.Of(node.Store.Options, node.Options.Replication) };
        }

        Span<byte> span = connection.BeginPost(opcode | Opcode.ReplyBit, WireStatus.Ok, requestId, reply.Size);
        try
        {
            reply.Write(span);
        }
        finally
        {
            connection.EndPost();
        }
    }

    private void Refuse(IConnection connection, WireStatus status, string reason)
    {
        LogRefusedLimited(connection, status, reason);
        connection.Fail(status, reason);
    }

    /// <summary>
    /// Logs why a connection is closed, up to <see cref="RefusalLinesPerSweep"/> lines per guard period;
    /// the sweep reports how many more there were, so a flood of bad connections cannot flood the log.
    /// </summary>
    private void LogRefusedLimited(IConnection connection, WireStatus status, string reason)
    {
        if (Interlocked.Decrement(ref _refusalLogBudget) >= 0)
        {
            LogRefused(connection.RemoteEndPoint.ToString() ?? "?", status, reason);
        }
        else
        {
            Interlocked.Increment(ref _refusalsSuppressed);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "closing connection from {Remote}: {Status}: {Reason}")]
    private partial void LogRefused(string remote, WireStatus status, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "connection from {Remote} closed: {Reason}")]
    private partial void LogClosed(string remote, string reason);
}
