using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace MirrorKv.Extensions.Caching.Tests;

/// <summary>DI registration, configuration binding and validation, HybridCache as L1 over MirrorKv, health.</summary>
public class IntegrationWithHostingTests
{
    [Fact]
    public async Task HybridCache_UsesMirrorKvAsL2_SoASecondProcessSkipsTheFactory()
    {
        await using TcpPair pair = await TcpPair.StartAsync();
        int calls = 0;
        ValueTask<string> Factory(CancellationToken _)
        {
            Interlocked.Increment(ref calls);
            return ValueTask.FromResult("expensive result");
        }

        // Two service providers stand for two application servers: separate L1 caches, one shared L2.
        await using ServiceProvider first = Services(pair), second = Services(pair);
        Assert.IsType<MirrorKvCache>(first.GetRequiredService<IDistributedCache>());
        Assert.Equal("expensive result", await first.GetRequiredService<HybridCache>().GetOrCreateAsync("report", Factory, cancellationToken: TestContext.Current.CancellationToken));

        // HybridCache writes L2 in the background after returning.
        await TcpPair.WaitUntilAsync(() => pair.Primary.Store.TryLookup("report"u8, out _, out _));
        Assert.Equal("expensive result", await second.GetRequiredService<HybridCache>().GetOrCreateAsync("report", Factory, cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal(1, calls);
    }

    [Fact]
    public void Configuration_BindsFromEnvironmentVariables()
    {
        Environment.SetEnvironmentVariable("MIRRORKVTEST_MirrorKv__PrimaryEndPoint", "127.0.0.1:7411");
        Environment.SetEnvironmentVariable("MIRRORKVTEST_MirrorKv__WhenUnavailable", "Fail");
        Environment.SetEnvironmentVariable("MIRRORKVTEST_MirrorKv__RequestTimeout", "00:00:03");
        IConfiguration configuration = new ConfigurationBuilder().AddEnvironmentVariables("MIRRORKVTEST_").Build();
        using ServiceProvider services = new ServiceCollection().AddMirrorKvCache(configuration.GetSection("MirrorKv")).BuildServiceProvider();
        MirrorKvCacheOptions options = services.GetRequiredService<IOptions<MirrorKvCacheOptions>>().Value;
        Assert.Equal(("127.0.0.1:7411", CacheUnavailableBehavior.Fail, TimeSpan.FromSeconds(3)), (options.PrimaryEndPoint, options.WhenUnavailable, options.RequestTimeout));
    }

    [Theory]
    [InlineData(null, "PrimaryEndPoint is required")]
    [InlineData("localhost", "is not an IP address with a port")]
    [InlineData("127.0.0.1:7400", null)]
    public void Validation_NamesTheBadSetting(string? endPoint, string? expected)
    {
        using ServiceProvider services = new ServiceCollection().AddMirrorKvCache(o => o.PrimaryEndPoint = endPoint).BuildServiceProvider();
        if (expected is null)
        {
            Assert.Equal(endPoint, services.GetRequiredService<IOptions<MirrorKvCacheOptions>>().Value.PrimaryEndPoint);
            return;
        }

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<MirrorKvCacheOptions>>().Value);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadOptions_FailTheHostAtStartUp_NotAtFirstUse()
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["MirrorKv:PrimaryEndPoint"] = "not-an-endpoint", ["MirrorKv:RequestTimeout"] = "-00:00:01" });
        builder.Services.AddMirrorKvCache(builder.Configuration.GetSection("MirrorKv"));
        using IHost host = builder.Build();
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));
        Assert.Contains("PrimaryEndPoint 'not-an-endpoint'", error.Message, StringComparison.Ordinal);
        Assert.Contains("RequestTimeout must be positive", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HealthCheck_HealthyThenDegradedThenUnhealthy()
    {
        TcpPair pair = await TcpPair.StartAsync();
        await using ServiceProvider services = Services(pair);
        HealthCheckService health = services.GetRequiredService<HealthCheckService>();
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync(TestContext.Current.CancellationToken)).Status);

        await pair.StopSecondaryAsync();
        await TcpPair.WaitUntilAsync(() => !pair.Primary.IsProtected);
        HealthReport report = await health.CheckHealthAsync(TestContext.Current.CancellationToken);
        Assert.Equal(HealthStatus.Degraded, report.Status);
        Assert.Contains("without a secondary", report.Entries["mirrorkv"].Description, StringComparison.Ordinal);

        await pair.StopPrimaryAsync();
        await TcpPair.WaitUntilAsync(() => health.CheckHealthAsync().GetAwaiter().GetResult().Status == HealthStatus.Unhealthy);
    }

    private static ServiceProvider Services(TcpPair pair)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddHybridCache();
        services.AddMirrorKvCache(o =>
        {
            o.PrimaryEndPoint = pair.Primary.EndPoint.ToString();
            o.RequestTimeout = TimeSpan.FromMilliseconds(500);
        });
        services.AddHealthChecks().AddMirrorKv();
        return services.BuildServiceProvider();
    }
}
