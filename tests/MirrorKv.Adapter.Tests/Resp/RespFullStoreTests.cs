using MirrorKv.Store;

namespace MirrorKv.Adapter.Tests.Resp;

/// <summary>
/// A pipeline of large values into a small, evicting store: every entry written in the last moments still waits for
/// the secondary's ack and may not be evicted yet, so a write could find nothing to evict. It waits for the acks and
/// runs again instead of failing with OOM, as it would not fail in redis (whose replica acknowledges nothing).
/// </summary>
public class RespFullStoreTests
{
    private const int ValueBytes = 4 << 20;

    private static NodeOptions SmallEvictingStore(NodeOptions options) => options with
    {
        Store = options.Store with { MaxMemory = 32UL << 20, SlabSize = 1 << 20, Eviction = EvictionPolicy.AllKeysLru, MaxValueLength = 8 << 20 },
        MaxFrameSize = 16 << 20,
    };

    [Fact]
    public async Task PipelinedLargeValues_IntoAFullEvictingStore_AreAllWritten_EvictingOlderOnes()
    {
        await using RespNodes nodes = await RespNodes.StartAsync(withSecondary: true, tweak: SmallEvictingStore);
        RespTestClient client = await nodes.ConnectAsync();

        // 40 values of 4 MiB into 32 MiB, in one write: the store holds a handful at a time.
        const int Values = 40;
        using var burst = new MemoryStream();
        for (int i = 0; i < Values; i++)
        {
            burst.Write(RespTestClient.Encode("SET", $"large:{i}", Enumerable.Repeat((byte)('a' + (i % 26)), ValueBytes).ToArray()));
        }

        await client.SendAsync(burst.ToArray());
        var replies = new List<string>();
        for (int i = 0; i < Values; i++)
        {
            replies.Add((await client.ReadAsync(seconds: 30)).ToString());
        }

        Assert.True(replies.All(r => r == "+OK"), $"{replies.Count(r => r != "+OK")} of {Values} SETs failed, the first: {replies.FirstOrDefault(r => r != "+OK")}\n{nodes.Log}");

        // The last value is there, on both nodes, and older ones made room for it.
        Assert.Equal(ValueBytes, (await client.CallAsync("STRLEN", $"large:{Values - 1}")).Integer);
        RespTestClient secondary = await nodes.ConnectAsync(nodes.Secondary!);
        Assert.Equal(ValueBytes, (await secondary.CallAsync("STRLEN", $"large:{Values - 1}")).Integer);
        long keys = (await client.CallAsync("DBSIZE")).Integer;
        Assert.InRange(keys, 1, 8);
        Assert.Equal(keys, (await secondary.CallAsync("DBSIZE")).Integer);
    }

    [Fact]
    public async Task PipelinedLargeValues_WithNothingThePolicyMayEvict_FailWithOom_AfterOneWait()
    {
        // volatile-ttl evicts only keys with an expiry, and these have none: once the store is full, the acks make
        // nothing evictable, and each refused SET is answered OOM after its one wait, in order, none lost.
        await using RespNodes nodes = await RespNodes.StartAsync(withSecondary: true, tweak: o => SmallEvictingStore(o) with
        {
            Store = SmallEvictingStore(o).Store with { Eviction = EvictionPolicy.VolatileTtl },
        });
        RespTestClient client = await nodes.ConnectAsync();
        const int Values = 16;
        using var burst = new MemoryStream();
        for (int i = 0; i < Values; i++)
        {
            burst.Write(RespTestClient.Encode("SET", $"kept:{i}", new byte[ValueBytes]));
        }

        burst.Write(RespTestClient.Encode("PING"));
        await client.SendAsync(burst.ToArray());
        var replies = new List<string>();
        for (int i = 0; i < Values; i++)
        {
            replies.Add((await client.ReadAsync(seconds: 30)).ToString());
        }

        int ok = replies.TakeWhile(r => r == "+OK").Count();
        Assert.InRange(ok, 4, 7);
        Assert.All(replies.Skip(ok), r => Assert.StartsWith("-OOM", r, StringComparison.Ordinal));
        Assert.Equal("+PONG", (await client.ReadAsync()).ToString());
        Assert.Equal(ok, (await client.CallAsync("DBSIZE")).Integer);
    }
}
