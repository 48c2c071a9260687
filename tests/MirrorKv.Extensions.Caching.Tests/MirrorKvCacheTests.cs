using System.Buffers;
using System.Text;
using MirrorKv.Client;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Options;

namespace MirrorKv.Extensions.Caching.Tests;

/// <summary>The cache over a real pair: values, expiration in the entry, reclamation, unavailability.</summary>
public class MirrorKvCacheTests
{
    [Fact]
    public async Task SetGetRemove_RoundTrip_AndAMissIsNull()
    {
        await using TcpPair pair = await TcpPair.StartAsync();
        await using MirrorKvCache cache = Cache(pair);
        await cache.SetAsync("greeting", "hello"u8.ToArray(), new DistributedCacheEntryOptions(), TestContext.Current.CancellationToken);
        Assert.Equal("hello"u8.ToArray(), await cache.GetAsync("greeting", TestContext.Current.CancellationToken));
        Assert.Equal("hello"u8.ToArray(), cache.Get("greeting"));
        Assert.Null(await cache.GetAsync("nobody", TestContext.Current.CancellationToken));
        await cache.RemoveAsync("greeting", TestContext.Current.CancellationToken);
        Assert.Null(await cache.GetAsync("greeting", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task BufferApi_MultiSegmentValue_RoundTrips()
    {
        await using TcpPair pair = await TcpPair.StartAsync();
        await using MirrorKvCache cache = Cache(pair);
        byte[] first = Encoding.UTF8.GetBytes(new string('a', 3000)), second = Encoding.UTF8.GetBytes("tail");
        var head = new Segment(first);
        ReadOnlySequence<byte> value = new(head, 0, head.Append(second), second.Length);

        await cache.SetAsync("big", value, new DistributedCacheEntryOptions(), TestContext.Current.CancellationToken);
        var writer = new ArrayBufferWriter<byte>();
        Assert.True(await cache.TryGetAsync("big", writer, TestContext.Current.CancellationToken));
        Assert.Equal([.. first, .. second], writer.WrittenSpan.ToArray());
        Assert.False(await cache.TryGetAsync("absent", writer, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task AbsoluteExpiration_ReadsMissAfterIt_AndThePrimaryReclaimsTheSlot()
    {
        await using TcpPair pair = await TcpPair.StartAsync();
        await using MirrorKvCache cache = Cache(pair);
        // Long enough to read it back on a loaded machine, short enough for the sweep to find it soon after.
        await cache.SetAsync("short", "x"u8.ToArray(), new DistributedCacheEntryOptions { AbsoluteExpirationRelativeToNow = TimeSpan.FromSeconds(1.5) }, TestContext.Current.CancellationToken);
        await cache.SetAsync("long", "y"u8.ToArray(), new DistributedCacheEntryOptions { AbsoluteExpirationRelativeToNow = TimeSpan.FromHours(1) }, TestContext.Current.CancellationToken);
        Assert.NotNull(await cache.GetAsync("short", TestContext.Current.CancellationToken));

        // No reader touches it: the primary's sweep alone must delete it, and the delete must replicate.
        await Waits.UntilAsync(() => !pair.Primary.Store.TryLookup("short"u8, out _, out _), seconds: 10);
        await Waits.UntilAsync(() => !pair.Secondary!.Store.TryLookup("short"u8, out _, out _), seconds: 10);
        Assert.Null(await cache.GetAsync("short", TestContext.Current.CancellationToken));
        Assert.NotNull(await cache.GetAsync("long", TestContext.Current.CancellationToken));
        Assert.True(pair.Primary.ExpiredEntriesReaped >= 1);
    }

    [Fact]
    public async Task SlidingExpiration_ReadsKeepItAlive_UntilTheyStop()
    {
        await using TcpPair pair = await TcpPair.StartAsync();
        var clock = new SteppedClock();
        await using MirrorKvCache cache = Cache(pair, clock: clock);
        var window = TimeSpan.FromMilliseconds(1500);
        await cache.SetAsync("session", "s"u8.ToArray(), new DistributedCacheEntryOptions { SlidingExpiration = window }, TestContext.Current.CancellationToken);
        for (int i = 0; i < 8; i++)
        {
            clock.Advance(window - TimeSpan.FromMilliseconds(1));
            Assert.NotNull(await cache.GetAsync("session", TestContext.Current.CancellationToken));
        }

        // Eight windows after the write: alive only because each read moved the deadline. Then a whole window
        // without a read.
        clock.Advance(window);
        Assert.Null(await cache.GetAsync("session", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task SlidingWithinAbsolute_EndsAtTheAbsoluteDeadline()
    {
        await using TcpPair pair = await TcpPair.StartAsync();
        var clock = new SteppedClock();
        await using MirrorKvCache cache = Cache(pair, clock: clock);
        var options = new DistributedCacheEntryOptions { SlidingExpiration = TimeSpan.FromSeconds(10), AbsoluteExpirationRelativeToNow = TimeSpan.FromSeconds(2) };
        await cache.SetAsync("capped", "c"u8.ToArray(), options, TestContext.Current.CancellationToken);
        Assert.NotNull(await cache.GetAsync("capped", TestContext.Current.CancellationToken));

        // A read just before the absolute deadline slides the entry by 10 s, but not past that deadline.
        clock.Advance(TimeSpan.FromMilliseconds(1999));
        Assert.NotNull(await cache.GetAsync("capped", TestContext.Current.CancellationToken));
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Null(await cache.GetAsync("capped", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task AbsoluteExpirationInThePast_IsRejected()
    {
        await using TcpPair pair = await TcpPair.StartAsync();
        await using MirrorKvCache cache = Cache(pair);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => cache.SetAsync("k", [1], new DistributedCacheEntryOptions { AbsoluteExpiration = DateTimeOffset.UtcNow.AddSeconds(-1) }, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task ForeignValue_UnderTheSameKey_IsAMissNotGarbage()
    {
        await using TcpPair pair = await TcpPair.StartAsync();
        await using MirrorKvCache cache = Cache(pair);
        await using MirrorKvClient raw = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [pair.Primary.EndPoint] });
        await raw.SetAsync("shared", "written without the cache header"u8.ToArray(), TestContext.Current.CancellationToken);
        Assert.Null(await cache.GetAsync("shared", TestContext.Current.CancellationToken));
    }

    [Theory]
    [InlineData(CacheUnavailableBehavior.Miss)]
    [InlineData(CacheUnavailableBehavior.Fail)]
    public async Task NoNodeServes_MissOrFail_AsConfigured(CacheUnavailableBehavior behavior)
    {
        TcpPair pair = await TcpPair.StartAsync();
        string endPoint = pair.Primary.EndPoint.ToString();
        await pair.DisposeAsync();
        await using var cache = new MirrorKvCache(Options.Create(new MirrorKvCacheOptions { EndPoints = endPoint, WhenUnavailable = behavior, ConnectTimeout = TimeSpan.FromMilliseconds(500) }));
        if (behavior == CacheUnavailableBehavior.Miss)
        {
            Assert.Null(await cache.GetAsync("k", TestContext.Current.CancellationToken));
            await cache.SetAsync("k", [1], new DistributedCacheEntryOptions(), TestContext.Current.CancellationToken);
            await cache.RemoveAsync("k", TestContext.Current.CancellationToken);
        }
        else
        {
            var error = await Assert.ThrowsAsync<MirrorKvException>(() => cache.GetAsync("k", TestContext.Current.CancellationToken));
            Assert.Equal(MirrorKvError.Unavailable, error.Error);
            error = await Assert.ThrowsAsync<MirrorKvException>(() => cache.SetAsync("k", [1], new DistributedCacheEntryOptions(), TestContext.Current.CancellationToken));
            Assert.Equal(MirrorKvError.Unavailable, error.Error);
        }
    }

    [Fact]
    public async Task KeyPrefix_SeparatesApplications()
    {
        await using TcpPair pair = await TcpPair.StartAsync();
        await using MirrorKvCache a = Cache(pair, "app-a:"), b = Cache(pair, "app-b:");
        await a.SetAsync("k", "from a"u8.ToArray(), new DistributedCacheEntryOptions(), TestContext.Current.CancellationToken);
        Assert.Null(await b.GetAsync("k", TestContext.Current.CancellationToken));
        Assert.True(pair.Primary.Store.TryLookup("app-a:k"u8, out _, out _));
    }

    internal static MirrorKvCache Cache(TcpPair pair, string prefix = "", TimeProvider? clock = null) =>
        new(Options.Create(new MirrorKvCacheOptions { EndPoints = pair.Primary.EndPoint.ToString(), KeyPrefix = prefix }), clock);

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
