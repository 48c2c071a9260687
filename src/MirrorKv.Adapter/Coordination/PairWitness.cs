using System.Net;
using Microsoft.Extensions.Logging.Abstractions;

namespace MirrorKv.Adapter;

/// <summary>What etcd says about a pair, for operators (<c>mirrorkv status --coordinator</c>) and tests.</summary>
public static class PairWitness
{
    /// <summary>etcd's view of the pair.</summary>
    /// <param name="Leader">The node holding the leader key, or null when none does.</param>
    /// <param name="LeaderEpoch">Its epoch (0 when none).</param>
    /// <param name="LastEpoch">The highest epoch etcd ever granted the pair.</param>
    public sealed record View(IPEndPoint? Leader, ulong LeaderEpoch, ulong LastEpoch);

    /// <summary>Reads the pair's leader key and epoch; throws <see cref="InvalidOperationException"/> when etcd cannot be reached.</summary>
    public static async Task<View> DescribeAsync(CoordinatorOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        await using var coordinator = new PairCoordinator(options, TimeProvider.System, NullLogger.Instance);
        try
        {
            LeaderRecord? leader = await coordinator.ReadLeaderAsync(cancellationToken).ConfigureAwait(false);
            ulong last = await coordinator.ReadEpochAsync(cancellationToken).ConfigureAwait(false);
            return new View(leader?.EndPoint, leader?.Epoch ?? 0, last);
        }
        catch (EtcdException e)
        {
            throw new InvalidOperationException(e.Message, e);
        }
    }
}
