using System.Net;
using MirrorKv.Protocol;
using MirrorKv.Transport;
using MirrorKv.Transport.Tcp;

namespace MirrorKv.Client;

/// <summary>Operations on nodes rather than keys: what <c>mirrorkv status</c> shows.</summary>
public static class MirrorKvAdmin
{
    /// <summary>Asks one node for its role, epoch, LSNs and whether the pair is protected.</summary>
    /// <param name="node">The node.</param>
    /// <param name="transport">TCP unless given.</param>
    /// <param name="timeout">For the connection and the request; 2 s unless given.</param>
    /// <param name="secret">The node's client secret, when it has one.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public static async Task<NodeStatus> GetStatusAsync(IPEndPoint node, ITransport? transport = null, TimeSpan? timeout = null, byte[]? secret = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(node);
        TimeSpan wait = timeout ?? TimeSpan.FromSeconds(2);
        NodeChannel channel;
        try
        {
            channel = await NodeChannel.ConnectAsync(transport ?? new TcpTransport(), node, new NodeChannelOptions(secret, wait, wait), _ => { }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not MirrorKvException and not OperationCanceledException)
        {
            throw new MirrorKvException(MirrorKvError.Unavailable, $"Cannot reach {node}: {e.Message}", WireStatus.Ok, e);
        }

        await using (channel.ConfigureAwait(false))
        {
            PendingOperation op = channel.Rent();
            try
            {
                channel.PostStatus(op);
                await op.AsValueTask().ConfigureAwait(false);
                return op.Status == WireStatus.Ok && NodeStatus.TryRead(op.Payload, out NodeStatus? status) == WireStatus.Ok
                    ? status!
                    : throw new MirrorKvException(MirrorKvError.Protocol, $"{node} answered STATUS with {op.Status}", op.Status);
            }
            catch (ConnectionClosedException e)
            {
                // The node closed the connection between the handshake and the request (it is stopping, or
                // restarting its role): the same as not reachable.
                throw new MirrorKvException(MirrorKvError.Unavailable, $"{node} closed the connection before it answered STATUS", WireStatus.Ok, e);
            }
            finally
            {
                channel.Return(op);
            }
        }
    }
}
