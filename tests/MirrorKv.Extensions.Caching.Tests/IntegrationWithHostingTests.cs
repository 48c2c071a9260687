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
        await Waits.UntilAsync(() => pair.Primary.Store.TryLookup("report"u8, out _, out _));
        Assert.Equal("expensive result", await second.GetRequiredService<HybridCache>().GetOrCreateAsync("report", Factory, cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal(1, calls);
    }

    [Fact]
    public void Configuration_BindsFromEnvironmentVariables()
    {
        Environment.SetEnvironmentVariable("MIRRORKVTEST_MirrorKv__EndPoints", "127.0.0.1:7411,kv-b.example:7400");
        Environment.SetEnvironmentVariable("MIRRORKVTEST_MirrorKv__WhenUnavailable", "Fail");
        Environment.SetEnvironmentVariable("MIRRORKVTEST_MirrorKv__RequestTimeout", "00:00:03");
        IConfiguration configuration = new ConfigurationBuilder().AddEnvironmentVariables("MIRRORKVTEST_").Build();
        using ServiceProvider services = new ServiceCollection().AddMirrorKvCache(configuration.GetSection("MirrorKv")).BuildServiceProvider();
        MirrorKvCacheOptions options = services.GetRequiredService<IOptions<MirrorKvCacheOptions>>().Value;
        Assert.Equal(("127.0.0.1:7411,kv-b.example:7400", CacheUnavailableBehavior.Fail, TimeSpan.FromSeconds(3)), (options.EndPoints, options.WhenUnavailable, options.RequestTimeout));
    }

    [Theory]
    [InlineData(null, "MirrorKv:EndPoints is not set")]
    [InlineData("localhost", "'localhost' is not host:port")]
    [InlineData("127.0.0.1:7400,", "has an empty item")]
    [InlineData("127.0.0.1:99999", "has no valid port")]
    [InlineData("127.0.0.1:7400,localhost:7401,[::1]:7402", null)]
    public void Validation_UnderFail_NamesTheBadSetting(string? endPoints, string? expected)
    {
        using ServiceProvider services = new ServiceCollection().AddMirrorKvCache(o =>
        {
            o.EndPoints = endPoints;
            o.WhenUnavailable = CacheUnavailableBehavior.Fail;
        }).BuildServiceProvider();
        if (expected is null)
        {
            Assert.Equal(endPoints, services.GetRequiredService<IOptions<MirrorKvCacheOptions>>().Value.EndPoints);
            return;
        }

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<MirrorKvCacheOptions>>().Value);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadOptions_UnderFail_FailTheHostAtStartUp_NotAtFirstUse()
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["MirrorKv:EndPoints"] = "not-an-endpoint", ["MirrorKv:RequestTimeout"] = "-00:00:01", ["MirrorKv:WhenUnavailable"] = "Fail" });
        builder.Services.AddMirrorKvCache(builder.Configuration.GetSection("MirrorKv"));
        using IHost host = builder.Build();
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));
        Assert.Contains("MirrorKv:EndPoints: 'not-an-endpoint' is not host:port", error.Message, StringComparison.Ordinal);
        Assert.Contains("MirrorKv:RequestTimeout must be positive", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ShorthandEndPoints_AreStillAccepted_AsItemsOfTheList()
    {
#pragma warning disable CS0618 // What older appsettings.json files hold.
        var options = new MirrorKvCacheOptions { PrimaryEndPoint = "127.0.0.1:7400", SecondaryEndPoint = "127.0.0.1:7401" };
#pragma warning restore CS0618
        Assert.Empty(MirrorKvCacheOptionsValidator.FindProblems(options, out IReadOnlyList<System.Net.EndPoint> endPoints, out _));
        Assert.Equal(["127.0.0.1:7400", "127.0.0.1:7401"], endPoints.Select(e => e.ToString()));
    }

    [Fact]
    public async Task HealthCheck_HealthyThenDegradedThenUnhealthy()
    {
        TcpPair pair = await TcpPair.StartAsync();
        await using ServiceProvider services = Services(pair);
        HealthCheckService health = services.GetRequiredService<HealthCheckService>();
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync(TestContext.Current.CancellationToken)).Status);

        await pair.StopSecondaryAsync();
        await Waits.UntilAsync(() => !pair.Primary.IsProtected);
        HealthReport report = await health.CheckHealthAsync(TestContext.Current.CancellationToken);
        Assert.Equal(HealthStatus.Degraded, report.Status);
        Assert.Contains("without a secondary", report.Entries["mirrorkv"].Description, StringComparison.Ordinal);

        await pair.StopPrimaryAsync();
        await Waits.UntilAsync(() => health.CheckHealthAsync().GetAwaiter().GetResult().Status == HealthStatus.Unhealthy);
    }

    private static ServiceProvider Services(TcpPair pair)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddHybridCache();
        services.AddMirrorKvCache(o =>
        {
            o.EndPoints = pair.Primary.EndPoint.ToString();
            o.RequestTimeout = TimeSpan.FromMilliseconds(500);
        });
        services.AddHealthChecks().AddMirrorKv();
        return services.BuildServiceProvider();
    }
}
