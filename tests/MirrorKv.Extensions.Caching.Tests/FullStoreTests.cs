using System.Collections.Concurrent;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MirrorKv.Extensions.Caching.Tests;

/// <summary>A full store seen through the cache: a logged miss naming the setting to change, never an exception.</summary>
public class FullStoreTests
{
    [Fact]
    public async Task SetAsync_StoreFull_LogsWhatToChange_AndTheKeyMisses()
    {
        await using TcpPair pair = await TcpPair.StartAsync();
        var logs = new CapturingLoggers();
        await using var cache = new MirrorKvCache(Options.Create(new MirrorKvCacheOptions { EndPoints = pair.Primary.EndPoint.ToString() }), loggers: logs);
        CancellationToken token = TestContext.Current.CancellationToken;
        await cache.SetAsync("old", "small"u8.ToArray(), new DistributedCacheEntryOptions(), token);

        // 60 KB values take a 64 KiB slab each: the 16 MiB store is full after about 256 of them.
        byte[] large = new byte[60_000];
        for (int i = 0; i < 400 && logs.Warnings.IsEmpty; i++)
        {
            await cache.SetAsync($"fill-{i}", large, new DistributedCacheEntryOptions(), token);
        }

        string warning = Assert.Single(logs.Warnings);
        Assert.Contains("store is full", warning, StringComparison.Ordinal);
        Assert.Contains("--max-memory", warning, StringComparison.Ordinal);

        // A write that cannot be stored must not leave the older value to be read.
        await cache.SetAsync("old", large, new DistributedCacheEntryOptions(), token);
        Assert.Equal(2, logs.Warnings.Count);
        Assert.Null(await cache.GetAsync("old", token));
    }

    // The cache's own warnings: the client it drives logs under its own category (a failover on a loaded
    // machine, say), which this test is not about.
    private sealed class CapturingLoggers : ILoggerFactory, ILogger
    {
        public ConcurrentQueue<string> Warnings { get; } = new();

        public ILogger CreateLogger(string categoryName) =>
            categoryName == typeof(MirrorKvCache).FullName ? this : Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Warning)
            {
                Warnings.Enqueue(formatter(state, exception));
            }
        }

        public void Dispose()
        {
        }
    }
}
