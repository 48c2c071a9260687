using System.Diagnostics.Metrics;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MirrorKv.Client;

namespace MirrorKv.Extensions.Caching.Tests;

/// <summary>
/// Under WhenUnavailable = Miss (the default) no cache call fails a request: a missing or wrong secret, bad
/// endpoints or a bad WhenUnavailable are logged at the host's start naming the setting to change, the health
/// check is Unhealthy with the same words, and calls miss; a value over the pair's limit is not cached,
/// logged and counted.
/// </summary>
public class CacheUnderMissTests
{
    private static readonly byte[] Secret = "the pair's client secret, 32 bytes+"u8.ToArray();

    [Fact]
    public async Task MissingSecret_HostStarts_ErrorNamesSecretFile_HealthUnhealthy_CallsMiss()
    {
        await using TcpPair pair = await TcpPair.StartAsync(TcpPair.Options with { Secret = Secret });
        (IHost host, RecordingLoggers logs) = await StartHostAsync(new() { ["MirrorKv:EndPoints"] = pair.Primary.EndPoint.ToString() });
        using (host)
        {
            await Waits.UntilAsync(() => logs.Has(LogLevel.Error, "requires a secret and this application has none: set MirrorKv:SecretFile"));
            await AssertUnhealthyAndMissingAsync(host, "MirrorKv:SecretFile");
        }
    }

    [Fact]
    public async Task WrongSecret_HostStarts_ErrorNamesSecretFile_HealthUnhealthy_CallsMiss()
    {
        await using TcpPair pair = await TcpPair.StartAsync(TcpPair.Options with { Secret = Secret });
        string file = Path.Combine(Path.GetTempPath(), $"ce-wrong-secret-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(file, "not the pair's secret, but long enough", TestContext.Current.CancellationToken);
        try
        {
            (IHost host, RecordingLoggers logs) = await StartHostAsync(new() { ["MirrorKv:EndPoints"] = pair.Primary.EndPoint.ToString(), ["MirrorKv:SecretFile"] = file });
            using (host)
            {
                await Waits.UntilAsync(() => logs.Has(LogLevel.Error, "refused this application's secret: set MirrorKv:SecretFile"));
                await AssertUnhealthyAndMissingAsync(host, "MirrorKv:SecretFile");
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task BadEndPoints_HostStarts_ErrorNamesTheSetting_HealthUnhealthy_CallsMiss()
    {
        (IHost host, RecordingLoggers logs) = await StartHostAsync(new() { ["MirrorKv:EndPoints"] = "kv-a" });
        using (host)
        {
            Assert.True(logs.Has(LogLevel.Error, "MirrorKv:EndPoints: 'kv-a' is not host:port"), logs.All);
            await AssertUnhealthyAndMissingAsync(host, "MirrorKv:EndPoints");
        }
    }

    [Fact]
    public async Task BadWhenUnavailable_IsReportedWithTheValidValues_AndMissApplies()
    {
        (IHost host, RecordingLoggers logs) = await StartHostAsync(new() { ["MirrorKv:EndPoints"] = $"127.0.0.1:{Ports.Free()}", ["MirrorKv:WhenUnavailable"] = "Mis" });
        using (host)
        {
            Assert.True(logs.Has(LogLevel.Error, "MirrorKv:WhenUnavailable 'Mis' is not one of Miss, Fail; using Miss"), logs.All);
            await AssertUnhealthyAndMissingAsync(host, "MirrorKv:WhenUnavailable");
        }
    }

    [Fact]
    public async Task ValueOverTheLimit_UnderMiss_IsNotCached_LoggedAndCounted()
    {
        await using TcpPair pair = await TcpPair.StartAsync();
        var logs = new RecordingLoggers();
        await using var cache = new MirrorKvCache(Options.Create(new MirrorKvCacheOptions { EndPoints = pair.Primary.EndPoint.ToString() }), loggers: logs);
        long counted = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == MirrorKvTelemetry.Name && instrument.Name == "mirrorkv.cache.values_not_cached")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref counted, value));
        listener.Start();

        // One byte over what the pair stores (its --max-value-size), with the cache's header on top.
        int tooLarge = pair.Primary.Store.Options.EffectiveMaxValueLength + 1;
        await cache.SetAsync("big", new byte[tooLarge], new DistributedCacheEntryOptions(), TestContext.Current.CancellationToken);

        Assert.Equal(1, Interlocked.Read(ref counted));
        Assert.True(logs.Has(LogLevel.Warning, $"did not cache big: its value of {tooLarge} bytes"), logs.All);
        Assert.Null(await cache.GetAsync("big", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task ValueOverTheLimit_UnderFail_Throws()
    {
        await using TcpPair pair = await TcpPair.StartAsync();
        await using var cache = new MirrorKvCache(Options.Create(new MirrorKvCacheOptions { EndPoints = pair.Primary.EndPoint.ToString(), WhenUnavailable = CacheUnavailableBehavior.Fail }));
        byte[] tooLarge = new byte[pair.Primary.Store.Options.EffectiveMaxValueLength + 1];
        MirrorKvException e = await Assert.ThrowsAsync<MirrorKvException>(() => cache.SetAsync("big", tooLarge, new DistributedCacheEntryOptions(), TestContext.Current.CancellationToken));
        Assert.Equal(MirrorKvError.ValueTooLarge, e.Error);
    }

    [Fact]
    public async Task EndPointsInEitherOrder_TheCacheFindsThePrimary()
    {
        await using TcpPair pair = await TcpPair.StartAsync();
        await using var cache = new MirrorKvCache(Options.Create(new MirrorKvCacheOptions { EndPoints = $"{pair.Secondary!.EndPoint},{pair.Primary.EndPoint}", WhenUnavailable = CacheUnavailableBehavior.Fail }));
        await cache.SetAsync("k", [1, 2, 3], new DistributedCacheEntryOptions(), TestContext.Current.CancellationToken);
        Assert.Equal([1, 2, 3], await cache.GetAsync("k", TestContext.Current.CancellationToken));
        Assert.Equal(pair.Primary.EndPoint, cache.Client!.PrimaryEndPoint);
    }

    private static async Task<(IHost Host, RecordingLoggers Logs)> StartHostAsync(Dictionary<string, string?> settings)
    {
        var logs = new RecordingLoggers();
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(logs);
        builder.Services.AddMirrorKvCache(builder.Configuration.GetSection("MirrorKv"));
        builder.Services.AddHealthChecks().AddMirrorKv();
        IHost host = builder.Build();
        await host.StartAsync(TestContext.Current.CancellationToken);
        return (host, logs);
    }

    private static async Task AssertUnhealthyAndMissingAsync(IHost host, string setting)
    {
        HealthReport report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(TestContext.Current.CancellationToken);
        Assert.Equal(HealthStatus.Unhealthy, report.Status);
        Assert.Contains(setting, report.Entries["mirrorkv"].Description, StringComparison.Ordinal);

        IDistributedCache cache = host.Services.GetRequiredService<IDistributedCache>();
        Assert.Null(await cache.GetAsync("k", TestContext.Current.CancellationToken));
        await cache.SetAsync("k", [1], new DistributedCacheEntryOptions(), TestContext.Current.CancellationToken);
        await cache.RemoveAsync("k", TestContext.Current.CancellationToken);
        await host.StopAsync(TestContext.Current.CancellationToken);
    }
}
