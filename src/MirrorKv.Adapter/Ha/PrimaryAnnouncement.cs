using System.Net;
using MirrorKv.Protocol;
using MirrorKv.Transport;

namespace MirrorKv.Adapter;

/// <summary>
/// Tells a node that serves as primary under an older epoch that it has been replaced: a peer connection to it (HELLO
/// as a peer adapter, AUTH with the peer secret when it asks), then one HEARTBEAT with role primary and the newer epoch,
/// the announcement a promoted secondary sends on its link. A node that hears a newer epoch from its peer fences and
/// rejoins that peer, whose endpoint came in the HELLO. Used when a node started as primary at the pair's lost peer's
/// endpoint without asking (<c>serve --role primary</c> with no <c>--peer</c>, after a failover).
/// </summary>
internal sealed class PrimaryAnnouncement : IMessageHandler
{
    private readonly TaskCompletionSource _sent = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly byte[]? _peerSecret;
    private readonly Heartbeat _announcement;

    private PrimaryAnnouncement(byte[]? peerSecret, Heartbeat announcement) => (_peerSecret, _announcement) = (peerSecret, announcement);

    /// <summary>Sends the announcement of <paramref name="epoch"/> to <paramref name="node"/>; throws when it could not be delivered within <paramref name="timeout"/>.</summary>
    public static async Task SendAsync(ITransport transport, IPEndPoint node, IPEndPoint advertised, IPEndPoint? advertisedResp, byte[]? peerSecret, ulong epoch, ulong lsn, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var announcement = new PrimaryAnnouncement(peerSecret, new Heartbeat(epoch, NodeRole.Primary, lsn, 0, false));
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        IConnection connection = await transport.ConnectAsync(node, announcement, deadline.Token).ConfigureAwait(false);
        try
        {
            var hello = new HelloRequest(PeerKind.Peer, ProtocolLimits.DefaultMaxFrameSize, advertised) { RespEndPoint = advertisedResp };
            hello.Write(connection.BeginPost(Opcode.Hello, WireStatus.Ok, 1, hello.EncodedSize));
            connection.EndPost();
            connection.Flush();
            await announcement._sent.Task.WaitAsync(deadline.Token).ConfigureAwait(false);
        }
        finally
        {
            connection.Abort(null);
        }
    }

    public void OnOpened(IConnection connection) => connection.MaxFrameSize = ProtocolLimits.DefaultMaxFrameSize;

    public void OnFrame(IConnection connection, in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.Opcode == (Opcode.Hello | Opcode.ReplyBit) && header.Status == WireStatus.AuthRequired && _peerSecret is not null && payload.Length == AuthProof.ChallengeSize)
        {
            AuthProof.Compute(_peerSecret, PeerKind.Peer, payload, connection.BeginPost(Opcode.Auth, WireStatus.Ok, 2, AuthProof.Size));
            connection.EndPost();
            connection.Flush();
        }
        else if (header.Status == WireStatus.Ok && header.Opcode is (Opcode.Hello | Opcode.ReplyBit) or (Opcode.Auth | Opcode.ReplyBit))
        {
            // Taken as its secondary: the announcement is the first frame it hears from us, before any copy begins.
            _announcement.Write(connection.BeginPost(Opcode.Heartbeat, WireStatus.Ok, 0, Heartbeat.Size));
            connection.EndPost();
            connection.Flush();
            _sent.TrySetResult();
        }
        else if (header.Opcode is (Opcode.Hello | Opcode.ReplyBit) or (Opcode.Auth | Opcode.ReplyBit) or Opcode.Error)
        {
            _sent.TrySetException(new InvalidOperationException($"the node refused the peer handshake: {header.Status} {ErrorText.Read(payload)}"));
        }
    }

    public void OnBatchEnd(IConnection connection)
    {
    }

    public void OnClosed(IConnection connection, Exception? error) => _sent.TrySetException(new IOException("the connection closed before the announcement was sent", error));
}
