using System.Collections.Concurrent;
using MirrorKv.Protocol;
using MirrorKv.Transport;
using Microsoft.Extensions.Logging;

namespace MirrorKv.Adapter;

/// <summary>
/// Everything that arrives on connections accepted by a node: the handshake, then each frame dispatched
/// to the verbs engine (one-sided path) or the HA module (two-sided path), replies flushed once per batch.
/// </summary>
internal sealed partial class NodeFrameHandler(MirrorKvNode node, VerbsEngine verbs, HaModule ha, ILogger logger) : IFrameHandler
{
    private readonly ConcurrentDictionary<IConnection, byte> _open = new();

    public ICollection<IConnection> OpenConnections => _open.Keys;

    public void OnOpened(IConnection connection)
    {
        connection.State = new ConnectionState();
        connection.MaxFrameSize = node.Options.MaxFrameSize;
        _open.TryAdd(connection, 0);
    }

    public void OnFrame(IConnection connection, in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        var state = (ConnectionState)connection.State!;
        if (header.IsReply)
        {
            Refuse(connection, WireStatus.MalformedFrame, $"a node takes requests here, not replies (opcode 0x{(byte)header.Opcode:x2})");
            return;
        }

        if (!state.Greeted)
        {
            if (header.Opcode != Opcode.Hello)
            {
                Refuse(connection, WireStatus.HandshakeRequired, $"the first frame must be HELLO, not opcode 0x{(byte)header.Opcode:x2}");
                return;
            }

            Hello(connection, state, header.RequestId, payload);
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
            case Opcode.Status:
                node.DescribeStatus().Write(connection.BeginPost(Opcode.Status | Opcode.ReplyBit, WireStatus.Ok, header.RequestId, NodeStatus.Size));
                connection.EndPost();
                break;
            case Opcode.Slabs when state.Kind == PeerKind.Peer:
                node.DescribeSlabs(connection, header.RequestId);
                break;
            case Opcode.FailoverRead or Opcode.Translation or Opcode.Lookup when node.Role == NodeRole.Rejoining:
                Replies.Error(connection, header.Opcode, header.RequestId, WireStatus.NotPrimary, "this node is rejoining: it has not copied the primary's data yet");
                break;
            case Opcode.Read:
                verbs.Read(connection, header.RequestId, payload, state.Grant, state.MaxFrameSize);
                break;
            case Opcode.FailoverRead:
                verbs.FailoverRead(connection, header.RequestId, payload, state.Grant, state.MaxFrameSize);
                break;
            case Opcode.Translation:
                verbs.Translation(connection, header.RequestId, payload);
                break;
            case Opcode.Write or Opcode.Update or Opcode.Delete or Opcode.Lookup when state.Kind == PeerKind.Client:
                ha.Handle(connection, header.Opcode, header.RequestId, payload);
                break;
            case Opcode.ReplicateAck when state.Kind == PeerKind.Peer:
                node.OnReplicateAck(connection, payload);
                break;
            case Opcode.Hello:
                Replies.Error(connection, Opcode.Hello, header.RequestId, WireStatus.HandshakeRequired, "HELLO came twice on one connection");
                break;
            default:
                Replies.Error(connection, header.Opcode, header.RequestId, WireStatus.UnknownOpcode, $"opcode 0x{(byte)header.Opcode:x2} is not served on a {state.Kind} connection");
                break;
        }
    }

    public void OnBatchEnd(IConnection connection)
    {
        // Writes in this batch posted REPLICATE records: send them in one go, then the replies.
        node.Log.Flush();
        connection.Flush();
    }

    public void OnClosed(IConnection connection, Exception? error)
    {
        _open.TryRemove(connection, out _);
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
                ? $"bad magic or protocol version (this node speaks MKV1 version {ProtocolLimits.Version})"
                : "malformed HELLO");
            return;
        }

        state.Greeted = true;
        state.Kind = hello.Kind;
        state.AdvertisedEndPoint = hello.AdvertisedEndpoint;
        state.MaxFrameSize = Math.Clamp(hello.MaxFrameSize, ProtocolLimits.MinMaxFrameSize, ProtocolLimits.MaxMaxFrameSize);
        if (hello.Kind == PeerKind.Peer && node.CanAttachSecondary(out string? refusal) is false)
        {
            Refuse(connection, WireStatus.NotPrimary, refusal!);
            return;
        }

        HelloReply reply = node.DescribeForHello();
        Span<byte> span = connection.BeginPost(Opcode.Hello | Opcode.ReplyBit, WireStatus.Ok, requestId, reply.Size);
        try
        {
            reply.Write(span);
        }
        finally
        {
            connection.EndPost();
        }

        if (hello.Kind == PeerKind.Peer)
        {
            node.AttachSecondary(connection, hello.AdvertisedEndpoint);
        }

        connection.Flush();
    }

    private void Refuse(IConnection connection, WireStatus status, string reason)
    {
        LogRefused(connection.RemoteEndPoint.ToString() ?? "?", status, reason);
        connection.Fail(status, reason);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "closing connection from {Remote}: {Status}: {Reason}")]
    private partial void LogRefused(string remote, WireStatus status, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "connection from {Remote} closed: {Reason}")]
    private partial void LogClosed(string remote, string reason);
}
