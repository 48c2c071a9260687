using System.Net;
using MirrorKv.Protocol;
using MirrorKv.Transport;
using MirrorKv.Transport.Tcp;

namespace MirrorKv.Client;

/// <summary>Operations on nodes rather than keys: what <c>mirrorkv status</c> and <c>mirrorkv switchover</c> do.</summary>
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
        return await AskAsync(node, transport, wait, secret, "STATUS", static (channel, op, _) => channel.PostStatus(op), static op =>
        {
            bool ok = NodeStatus.TryRead(op.Payload, out NodeStatus? status) == WireStatus.Ok;
            return (op.Status == WireStatus.Ok && ok, status!);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A planned failover: asks the primary to stop serving, wait until its secondary has confirmed every
    /// write, and hand the pair over. Returns once the handover is sent; the secondary serves as primary a
    /// moment later (under a higher epoch), and the old primary rejoins it as its secondary by itself.
    /// </summary>
    /// <param name="primary">The primary.</param>
    /// <param name="timeout">How long the primary waits for its secondary's confirmation before it gives up and serves again; the node's default (5 s) unless given.</param>
    /// <param name="transport">TCP unless given.</param>
    /// <param name="secret">The node's client secret, when it has one.</param>
    /// <param name="cancellationToken">Cancels the wait for the answer (not the switchover).</param>
    /// <returns>The epoch handed over from and the last LSN, which the secondary holds.</returns>
    /// <exception cref="MirrorKvException">Refused (not the primary, not protected, already under way) or abandoned (the secondary did not confirm in time): the message says which; the primary serves on.</exception>
    public static async Task<(ulong Epoch, ulong Lsn)> SwitchoverAsync(IPEndPoint primary, TimeSpan? timeout = null, ITransport? transport = null, byte[]? secret = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(primary);
        TimeSpan handover = timeout ?? TimeSpan.Zero;
        return await AskAsync(primary, transport, handover + TimeSpan.FromSeconds(5), secret, "SWITCHOVER", static (channel, op, t) => channel.PostSwitchover(op, t), static op =>
        {
            bool ok = SwitchoverMessages.TryReadReply(op.Payload, out ulong epoch, out ulong lsn) == WireStatus.Ok;
            return (op.Status == WireStatus.Ok && ok, (epoch, lsn));
        }, cancellationToken, handover).ConfigureAwait(false);
    }

    /// <summary>
    /// Asks one node for its cluster's map (CLUSTER_MAP, protocol 1.3); null when the node serves a single pair
    /// (it answers NoCluster, or, older than 1.3, UnknownOpcode).
    /// </summary>
    /// <param name="node">Any node of the cluster.</param>
    /// <param name="transport">TCP unless given.</param>
    /// <param name="timeout">For the connection and the request; 2 s unless given.</param>
    /// <param name="secret">The node's client secret, when it has one.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="MirrorKvException">The node cannot be reached (<see cref="MirrorKvError.Unavailable"/>) or sent a malformed map (<see cref="MirrorKvError.Protocol"/>, naming what is wrong).</exception>
    public static async Task<ClusterMap?> GetClusterMapAsync(IPEndPoint node, ITransport? transport = null, TimeSpan? timeout = null, byte[]? secret = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(node);
        try
        {
            return await AskAsync(node, transport, timeout ?? TimeSpan.FromSeconds(2), secret, "CLUSTER_MAP", static (channel, op, _) => channel.PostClusterMap(op, 0), static op =>
            {
                if (op.Status is WireStatus.NoCluster or WireStatus.UnknownOpcode)
                {
                    return (true, (ClusterMap?)null);
                }

                WireStatus decoded = ClusterMapMessages.TryReadReply(op.Payload, out _, out ClusterMap? map, out string? error);
                return op.Status != WireStatus.Ok || decoded == WireStatus.Ok && map is not null
                    ? (op.Status == WireStatus.Ok, map)
                    : throw new MirrorKvException(MirrorKvError.Protocol, $"CLUSTER_MAP: {error ?? "an 'unchanged' reply to a caller that has no map"}", decoded);
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (MirrorKvException e) when (e.Error == MirrorKvError.Protocol && e.WireStatus == WireStatus.MalformedFrame && e.Message.StartsWith("CLUSTER_MAP:", StringComparison.Ordinal))
        {
            throw new MirrorKvException(MirrorKvError.Protocol, $"{node} answered {e.Message}", e.WireStatus, e);
        }
    }

    // One request on a connection of its own. decode says whether the reply is the answer, and the answer.
    private static async Task<T> AskAsync<T>(IPEndPoint node, ITransport? transport, TimeSpan wait, byte[]? secret, string what, Action<NodeChannel, PendingOperation, TimeSpan> post, Func<PendingOperation, (bool Ok, T Value)> decode, CancellationToken cancellationToken, TimeSpan argument = default)
    {
        NodeChannel channel;
        TimeSpan connect = TimeSpan.FromSeconds(2) < wait ? TimeSpan.FromSeconds(2) : wait;
        try
        {
            channel = await NodeChannel.ConnectAsync(transport ?? new TcpTransport(), node, new NodeChannelOptions(secret, connect, wait), _ => { }, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            // The connect's own deadline, not the caller's: a host that drops packets (a firewall, a cut link, a
            // host gone without its address refusing). Said as such, not as a cancellation, which a command line
            // would end on without a word.
            throw new MirrorKvException(MirrorKvError.Unavailable, $"Cannot reach {node}: no answer to the connection within {connect.TotalSeconds:F1} s (a host that drops packets, or is down)", WireStatus.Ok, e);
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
                post(channel, op, argument);
                await op.AsValueTask().ConfigureAwait(false);
                (bool ok, T answer) = decode(op);
                if (ok)
                {
                    return answer;
                }

                string text = op.Status == WireStatus.Ok ? "a malformed reply" : $"{op.Status}: {ErrorText.Read(op.Payload)}";
                throw new MirrorKvException(MirrorKvError.Protocol, $"{node} answered {what} with {text}", op.Status);
            }
            catch (ConnectionClosedException e)
            {
                // The node closed the connection between the handshake and the request (it is stopping, or
                // restarting its role): the same as not reachable.
                throw new MirrorKvException(MirrorKvError.Unavailable, $"{node} closed the connection before it answered {what}", WireStatus.Ok, e);
            }
            finally
            {
                channel.Return(op);
            }
        }
    }
}
