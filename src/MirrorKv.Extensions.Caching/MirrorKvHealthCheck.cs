using MirrorKv.Client;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace MirrorKv.Extensions.Caching;

/// <summary>
/// Healthy when the client reads from the primary and the pair is protected; Degraded while the client is
/// failed over or the pair runs on one node; Unhealthy when no node serves, or when a setting is bad (the
/// description names it: the cache misses meanwhile).
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

        MirrorKvClient client;
        try
        {
            client = await cache.ConnectAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (MirrorKvException e)
        {
            return HealthCheckResult.Unhealthy($"no MirrorKv node serves: {e.Message}", e);
        }

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
