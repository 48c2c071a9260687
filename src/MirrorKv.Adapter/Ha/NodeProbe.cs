using System.Net;
using MirrorKv.Protocol;
using MirrorKv.Transport;

namespace MirrorKv.Adapter;

/// <summary>
/// Asks another node what it is (a HELLO as a client, AUTH when it wants one): its role and epoch. A pair
/// member asks before it gives up its node to rejoin there, so that it never stops serving for a node that
/// cannot take it.
/// </summary>
internal sealed class NodeProbe : IMessageHandler
{
    private readonly TaskCompletionSource<(NodeRole Role, ulong Epoch)> _answer = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly byte[]? _secret;

    private NodeProbe(byte[]? secret) => _secret = secret;

    /// <summary>The node's (role, epoch), or null when it cannot be reached or does not answer within <paramref name="timeout"/>.</summary>
    public static async Task<(NodeRole Role, ulong Epoch)?> AskAsync(ITransport transport, IPEndPoint node, byte[]? secret, TimeSpan timeout, CancellationToken cancellationToken) =>
        (await AskOrRefusedAsync(transport, node, secret, timeout, cancellationToken).ConfigureAwait(false)).Answer;

    /// <summary>
    /// As <see cref="AskAsync"/>, and whether the connection was refused: nothing listens there, so the
    /// process that did is gone (a paused or hung process still has its listening socket, and its kernel
    /// accepts the connection).
    /// </summary>
    public static async Task<((NodeRole Role, ulong Epoch)? Answer, bool Refused)> AskOrRefusedAsync(ITransport transport, IPEndPoint node, byte[]? secret, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ((NodeRole Role, ulong Epoch)? answer, bool refused, _) = await ProbeAsync(transport, node, secret, timeout, cancellationToken).ConfigureAwait(false);
        return (answer, refused);
    }

    /// <summary>
    /// As <see cref="AskOrRefusedAsync"/>, and whether the connection was accepted: a host whose kernel accepts
    /// but whose node does not answer holds a paused or hung process; a connection that neither opens nor is
    /// refused within the timeout went into a black hole (a cut that drops packets) or a host that is down.
    /// </summary>
    public static async Task<((NodeRole Role, ulong Epoch)? Answer, bool Refused, bool Connected)> ProbeAsync(ITransport transport, IPEndPoint node, byte[]? secret, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var probe = new NodeProbe(secret);
        IConnection? connection = null;
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(timeout);
            connection = await transport.ConnectAsync(node, probe, deadline.Token).ConfigureAwait(false);
            new HelloRequest(PeerKind.Client, ProtocolLimits.MinMaxFrameSize).Write(connection.BeginPost(Opcode.Hello, WireStatus.Ok, 1, HelloRequest.Size));
            connection.EndPost();
            connection.Flush();
            return (await probe._answer.Task.WaitAsync(deadline.Token).ConfigureAwait(false), false, true);
        }
        catch (System.Net.Sockets.SocketException e) when (e.SocketErrorCode == System.Net.Sockets.SocketError.ConnectionRefused)
        {
            return (null, true, false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or System.Net.Sockets.SocketException or ConnectionClosedException or InvalidOperationException)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return (null, false, connection is not null);
        }
        finally
        {
            connection?.Abort(null);
        }
    }

    public void OnOpened(IConnection connection) => connection.MaxFrameSize = ProtocolLimits.DefaultMaxFrameSize;

    public void OnFrame(IConnection connection, in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.Opcode == (Opcode.Hello | Opcode.ReplyBit) && header.Status == WireStatus.AuthRequired && _secret is not null && payload.Length == AuthProof.ChallengeSize)
        {
            AuthProof.Compute(_secret, PeerKind.Client, payload, connection.BeginPost(Opcode.Auth, WireStatus.Ok, 2, AuthProof.Size));
            connection.EndPost();
            connection.Flush();
        }
        else if (header.Status == WireStatus.Ok && header.Opcode is (Opcode.Hello | Opcode.ReplyBit) or (Opcode.Auth | Opcode.ReplyBit) && HelloReply.TryRead(payload, out HelloReply? reply) == WireStatus.Ok)
        {
            _answer.TrySetResult((reply!.Role, reply.Epoch));
        }
        else
        {
            _answer.TrySetException(new InvalidOperationException($"{header.Opcode} {header.Status}"));
        }
    }

    public void OnBatchEnd(IConnection connection)
    {
    }

    public void OnClosed(IConnection connection, Exception? error) => _answer.TrySetException(new IOException("closed", error));
}
