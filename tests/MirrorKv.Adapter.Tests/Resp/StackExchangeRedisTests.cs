using StackExchange.Redis;

namespace MirrorKv.Adapter.Tests.Resp;

/// <summary>StackExchange.Redis, a real redis client library, against the RESP port: connects, reads, writes, expires, over RESP2 and RESP3.</summary>
public class StackExchangeRedisTests
{
    [Theory]
    [InlineData("resp2")]
    [InlineData("resp3")]
    public async Task StackExchangeRedis_ConnectsAndServesStringsAndExpiry(string protocol)
    {
        await using RespNodes nodes = await RespNodes.StartAsync(withSecondary: true);
        await using ConnectionMultiplexer redis = await ConnectionMultiplexer.ConnectAsync($"{nodes.Primary.RespEndPoint},protocol={protocol},connectTimeout=5000");
        IDatabase db = redis.GetDatabase();
        Assert.True(await db.StringSetAsync("k", "v"));
        Assert.Equal("v", (string?)await db.StringGetAsync("k"));
        Assert.True(await db.StringSetAsync("t", "x", TimeSpan.FromSeconds(100)));
        TimeSpan? ttl = await db.KeyTimeToLiveAsync("t");
        Assert.InRange(ttl!.Value.TotalSeconds, 98, 100);

        // An absolute deadline: the library sends PEXPIREAT.
        Assert.True(await db.KeyExpireAsync("t", DateTime.UtcNow.AddSeconds(50)));
        Assert.InRange((await db.KeyTimeToLiveAsync("t"))!.Value.TotalSeconds, 48, 50);
        Assert.Equal(5, await db.StringIncrementAsync("n", 5));
        Assert.Equal(2.5, await db.StringIncrementAsync("f", 2.5));
        Assert.Equal(3, await db.StringAppendAsync("a", "abc"));
        Assert.Equal(6, await db.StringAppendAsync("a", "def"));
        Assert.Equal("cd", (string?)await db.StringGetRangeAsync("a", 2, 3));
        Assert.Equal(6, (long)await db.StringSetRangeAsync("a", 0, "X"));
        Assert.Equal("Xbcdef", (string?)await db.StringGetAsync("a"));
        Assert.True(await db.KeyDeleteAsync("k"));
        Assert.False((await db.StringGetAsync("k")).HasValue);
        Assert.False(await db.StringSetAsync("t", "y", when: When.NotExists));
        Assert.Equal("x", (string?)await db.StringGetDeleteAsync("t"));
        RedisValue[] values = await db.StringGetAsync(["n", "missing"]);
        Assert.Equal(["5", RedisValue.Null], values);
        Assert.True(await db.PingAsync() > TimeSpan.Zero);

        // The library sees the primary as a primary and the secondary as a replica (from INFO and ROLE), reads
        // from the replica, and a write forced onto it is answered READONLY.
        Assert.False(redis.GetServer(nodes.Primary.RespEndPoint!).IsReplica);
        await using ConnectionMultiplexer replica = await ConnectionMultiplexer.ConnectAsync($"{nodes.Secondary!.RespEndPoint},protocol={protocol},connectTimeout=5000");
        Assert.True(replica.GetServer(nodes.Secondary.RespEndPoint!).IsReplica);
        Assert.Equal("5", (string?)await replica.GetDatabase().StringGetAsync("n", CommandFlags.PreferReplica));
        RedisServerException readOnly = await Assert.ThrowsAsync<RedisServerException>(() => replica.GetDatabase().ExecuteAsync("SET", "k", "v"));
        Assert.StartsWith("READONLY", readOnly.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("resp2")]
    [InlineData("resp3")]
    public async Task StackExchangeRedis_WithBothNodesAsSentinels_FindsThePrimary(string protocol)
    {
        await using RespNodes nodes = await RespNodes.StartAsync(withSecondary: true, tweak: o => o with { SentinelListenEndPoint = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0) });

        // The app's configuration names the two nodes' sentinel ports and the pair as the service, nothing else.
        await using ConnectionMultiplexer redis = await ConnectionMultiplexer.ConnectAsync(
            $"{nodes.Secondary!.SentinelEndPoint},{nodes.Primary.SentinelEndPoint},serviceName=default,protocol={protocol},connectTimeout=5000");
        IDatabase db = redis.GetDatabase();
        Assert.True(await db.StringSetAsync("k", "v"));
        Assert.Equal("v", (string?)await db.StringGetAsync("k"));
        Assert.True(nodes.Primary.Store.TryLookup("k"u8, out _, out _));
        Assert.False(redis.GetServer(nodes.Primary.RespEndPoint!).IsReplica);
    }
}
