using MirrorKv.Client;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace MirrorKv.Extensions.Caching;

/// <summary>
/// Healthy when the client reads from the primary and the pair is protected; Degraded while the client is
/// failed over or the pair runs on one node; Unhealthy when no node serves, or when a setting is bad (the
/// description names it: the cache misses meanwhile). Over a cluster, each pair is judged so and the cache is as
/// healthy as its worst pair (one whose keys cannot be served makes it Unhealthy), the description naming the pairs
/// that are not Healthy.
/// </summary>
public sealed class MirrorKvHealthCheck(MirrorKvCache cache) : IHealthCheck
{
    /// <inheritdoc />
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (cache.ConfigurationProblems.Count > 0)
        {
            return HealthCheckResult.Unhealthy($"the MirrorKv cache is misconfigured: {string.Join(" ", cache.ConfigurationProblems)}");
        }

        MirrorKvClusterClient client;
        try
        {
            client = await cache.ConnectAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (MirrorKvException e)
        {
            return HealthCheckResult.Unhealthy($"no MirrorKv node serves: {e.Message}", e);
        }

        if (client.Map is not { } map)
        {
            return await CheckPairAsync(client.ClientFor(string.Empty), cancellationToken).ConfigureAwait(false);
        }

        var results = new List<(string Pair, HealthCheckResult Result)>();
        foreach (Protocol.ClusterPair pair in map.Pairs)
        {
            if (client.PairClient(pair.Id) is { } pairClient)
            {
                results.Add((pair.Id, await CheckPairAsync(pairClient, cancellationToken).ConfigureAwait(false)));
            }
        }

        HealthStatus worst = results.Count == 0 ? HealthStatus.Healthy : results.Min(r => r.Result.Status);
        var data = new Dictionary<string, object>
        {
            ["cluster"] = map.Name,
            ["map_version"] = map.Version,
            ["pairs"] = map.Pairs.Count,
        };
        foreach ((string pair, HealthCheckResult result) in results)
        {
            data[$"{pair}.status"] = result.Status.ToString();
        }

        string[] troubled = [.. results.Where(r => r.Result.Status != HealthStatus.Healthy).Select(r => $"pair {r.Pair}: {r.Result.Description}")];
        string description = troubled.Length == 0
            ? $"cluster {map.Name} (map version {map.Version}): every one of its {map.Pairs.Count} pairs serves from its primary and is protected"
            : $"cluster {map.Name} (map version {map.Version}), {troubled.Length} of {map.Pairs.Count} pairs not healthy: {string.Join("; ", troubled)}";
        return new HealthCheckResult(worst, description, results.Select(r => r.Result.Exception).FirstOrDefault(e => e is not null), data);
    }

    private static async Task<HealthCheckResult> CheckPairAsync(MirrorKvClient client, CancellationToken cancellationToken)
    {
        Protocol.NodeStatus status;
        try
        {
            status = await client.GetPrimaryStatusAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (MirrorKvException e)
        {
            // The primary is gone; reads are still served if the secondary answers (until it is promoted).
            try
            {
                Protocol.NodeStatus secondary = await client.GetSecondaryStatusAsync(cancellationToken).ConfigureAwait(false);
                return HealthCheckResult.Degraded($"failed over: the primary is unreachable, the secondary serves reads ({secondary.Role} at epoch {secondary.Epoch})", e);
            }
            catch (MirrorKvException)
            {
                return HealthCheckResult.Unhealthy($"no MirrorKv node serves: {e.Message}", e);
            }
        }

        var data = new Dictionary<string, object>
        {
            ["role"] = status.Role.ToString(),
            ["epoch"] = status.Epoch,
            ["lsn"] = status.Lsn,
            ["lag"] = status.Lag,
            ["protected"] = status.Protected,
            ["path"] = client.Path.ToString(),
        };
        if (client.Path != ClientPath.Primary)
        {
            return HealthCheckResult.Degraded($"failed over: reads go to {client.Path}", data: data);
        }

        return status.Protected
            ? HealthCheckResult.Healthy($"primary {client.PrimaryEndPoint} at epoch {status.Epoch}, pair protected", data)
            : HealthCheckResult.Degraded($"primary {client.PrimaryEndPoint} at epoch {status.Epoch} runs without a secondary: a second failure would lose the cache", data: data);
    }
}
