using MirrorKv.Client;
using MirrorKv.Extensions.Caching;
using MirrorKv.Protocol;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// The cache package over a real cluster (real processes, a real etcd), configured as over a pair: its
/// <c>EndPoints</c> name one node of the cluster, and the cache finds the map and every pair from it.
/// </summary>
[Collection(nameof(ProcessTests))]
public class CacheClusterProcessTests
{
    private const int Keys = 300;

    [Fact]
    public async Task Cache_GivenOneNodeOfACluster_PutsEachKeyAtItsOwner_AndSurvivesAPrimaryKill()
    {
        await using ProcessCluster cluster = await ProcessCluster.StartAsync(pairs: 3);
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["MirrorKv:EndPoints"] = cluster.Pairs[2].Secondary.EndPoint.ToString(),
            ["MirrorKv:KeyPrefix"] = "app:",
            ["MirrorKv:WhenUnavailable"] = "Fail",
        });
        builder.Services.AddMirrorKvCache(builder.Configuration.GetSection("MirrorKv"));
        builder.Services.AddHealthChecks().AddMirrorKv();
        using IHost host = builder.Build();
        await host.StartAsync(TestContext.Current.CancellationToken);
        IDistributedCache cache = host.Services.GetRequiredService<IDistributedCache>();
        MirrorKvCache mirror = host.Services.GetRequiredService<MirrorKvCache>();
        HealthCheckService health = host.Services.GetRequiredService<HealthCheckService>();
        var entry = new DistributedCacheEntryOptions { SlidingExpiration = TimeSpan.FromMinutes(10) };

        for (int i = 0; i < Keys; i++)
        {
            await cache.SetAsync(Key(i), Value(i, 0), entry, TestContext.Current.CancellationToken);
        }

        for (int i = 0; i < Keys; i++)
        {
            Assert.Equal(Value(i, 0), await cache.GetAsync(Key(i), TestContext.Current.CancellationToken));
        }

        Assert.True(mirror.ClusterClient!.IsCluster);
        Assert.Null(mirror.Client);

        // Each entry is at the pair that owns its stored key's slot (the prefix included), on both of its nodes.
        foreach ((string id, NodeProcess primary, NodeProcess secondary) in cluster.Pairs)
        {
            ulong owned = (ulong)Enumerable.Range(0, Keys).Count(i => cluster.Map.Owner(HashSlot.Of("app:" + Key(i))).Id == id);
            Assert.True(owned > 0, $"no key of {id}: the test proves nothing about routing");
            Assert.Equal(owned, (await MirrorKvAdmin.GetStatusAsync(primary.EndPoint)).Entries);
            await Waits.UntilAsync(async () => (await MirrorKvAdmin.GetStatusAsync(secondary.EndPoint)).Entries == owned, $"{id}'s secondary to hold its {owned} entries");
        }

        HealthReport report = await health.CheckHealthAsync(TestContext.Current.CancellationToken);
        Assert.True(report.Status == HealthStatus.Healthy, Describe(report));
        Assert.Contains("every one of its 3 pairs serves from its primary and is protected", Describe(report), StringComparison.Ordinal);

        // p1's primary killed: every key is still read (p1's at its secondary), p1's keys are written at the promoted
        // secondary, and the health check names p1 alone.
        await cluster.Pairs[0].Primary.KillAsync();
        for (int i = 0; i < Keys; i++)
        {
            Assert.Equal(Value(i, 0), await cache.GetAsync(Key(i), TestContext.Current.CancellationToken));
        }

        for (int i = 0; i < Keys; i++)
        {
            await cache.SetAsync(Key(i), Value(i, 1), entry, TestContext.Current.CancellationToken);
            Assert.Equal(Value(i, 1), await cache.GetAsync(Key(i), TestContext.Current.CancellationToken));
        }

        report = await health.CheckHealthAsync(TestContext.Current.CancellationToken);
        Assert.True(report.Status == HealthStatus.Degraded, Describe(report));
        Assert.Contains("1 of 3 pairs not healthy: pair p1:", Describe(report), StringComparison.Ordinal);
        Assert.Equal(2UL, mirror.ClusterClient.PairClient("p1")!.Epoch);
        Assert.Equal(1UL, mirror.ClusterClient.PairClient("p2")!.Epoch);

        await cache.RemoveAsync(Key(0), TestContext.Current.CancellationToken);
        Assert.Null(await cache.GetAsync(Key(0), TestContext.Current.CancellationToken));
        await host.StopAsync(TestContext.Current.CancellationToken);
    }

    private static string Key(int i) => $"item:{i}";

    private static byte[] Value(int i, int generation) => System.Text.Encoding.UTF8.GetBytes($"value {i} generation {generation}");

    private static string Describe(HealthReport report) =>
        string.Join(" | ", report.Entries.Select(e => $"{e.Key}: {e.Value.Status}: {e.Value.Description}"));
}
