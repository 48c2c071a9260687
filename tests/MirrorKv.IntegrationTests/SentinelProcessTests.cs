using System.Diagnostics;
using System.Net;
using StackExchange.Redis;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// StackExchange.Redis configured as an app would be for redis Sentinel (the two nodes' sentinel ports and the
/// pair's name, no MirrorKv code) against two `serve` processes: it finds the primary, and after a kill -9 of
/// the primary it writes to the promoted node by itself, with every acknowledged write still there.
/// </summary>
[Collection(nameof(ProcessTests))]
public class SentinelProcessTests
{
    [Fact]
    public async Task StackExchangeRedis_ThroughTheSentinelPorts_FollowsAKillOfThePrimary_AndLosesNoAcknowledgedWrite()
    {
        var primarySentinel = new IPEndPoint(IPAddress.Loopback, NodeProcess.FreePort());
        var secondarySentinel = new IPEndPoint(IPAddress.Loopback, NodeProcess.FreePort());
        await using RespPair pair = await RespPair.StartAsync(["--sentinel-listen", primarySentinel.ToString()], ["--sentinel-listen", secondarySentinel.ToString()]);
        await using ConnectionMultiplexer redis = await ConnectionMultiplexer.ConnectAsync($"{primarySentinel},{secondarySentinel},serviceName=default,connectTimeout=5000,syncTimeout=2000,abortConnect=false");
        IDatabase db = redis.GetDatabase();
        var acknowledged = new Dictionary<string, string>();
        for (int i = 0; i < 200; i++)
        {
            await SetUntilAcknowledgedAsync(db, $"key-{i}", $"before-{i}", acknowledged);
        }

        Assert.False(redis.GetServer(pair.PrimaryResp).IsReplica);
        await pair.Primary.KillAsync();
        var stall = Stopwatch.StartNew();
        await SetUntilAcknowledgedAsync(db, "key-0", "after-0", acknowledged);
        TimeSpan writeStall = stall.Elapsed;
        for (int i = 1; i < 400; i++)
        {
            await SetUntilAcknowledgedAsync(db, $"key-{i}", $"after-{i}", acknowledged);
        }

        foreach ((string key, string value) in acknowledged)
        {
            Assert.Equal(value, (string?)await db.StringGetAsync(key));
        }

        // The writes went to the promoted node's RESP port, which the library now takes for the primary.
        Assert.False(redis.GetServer(pair.SecondaryResp).IsReplica);
        Assert.InRange(writeStall, TimeSpan.Zero, TimeSpan.FromSeconds(30));
    }

    // A write the library could not get acknowledged (connection lost, the node not primary yet) is sent
    // again, as an app with a retry policy does; only acknowledged values are expected back.
    private static async Task SetUntilAcknowledgedAsync(IDatabase db, string key, string value, Dictionary<string, string> acknowledged)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                Assert.True(await db.StringSetAsync(key, value));
                acknowledged[key] = value;
                return;
            }
            catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException or RedisServerException && deadline.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(50);
            }
        }
    }
}
