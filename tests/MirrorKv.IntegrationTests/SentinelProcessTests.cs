using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using StackExchange.Redis;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// StackExchange.Redis configured as an app would be for redis Sentinel (the two nodes' sentinel ports and the
/// pair's name, no MirrorKv code) against two `serve` processes: it finds the primary, and after a kill -9 of
/// the primary it writes to the promoted node by itself, with every acknowledged write still there; a
/// subscriber of the secondary's sentinel port gets the +switch-master message.
/// </summary>
[Collection(nameof(ProcessTests))]
public class SentinelProcessTests
{
    [Fact]
    public async Task StackExchangeRedis_ThroughTheSentinelPorts_FollowsAKillOfThePrimary_AndLosesNoAcknowledgedWrite()
    {
        var primarySentinel = new IPEndPoint(IPAddress.Loopback, Ports.Free());
        var secondarySentinel = new IPEndPoint(IPAddress.Loopback, Ports.Free());
        await using RespPair pair = await RespPair.StartAsync(["--sentinel-listen", primarySentinel.ToString()], ["--sentinel-listen", secondarySentinel.ToString()]);
        await using ConnectionMultiplexer redis = await ConnectionMultiplexer.ConnectAsync($"{primarySentinel},{secondarySentinel},serviceName=default,connectTimeout=5000,syncTimeout=2000,abortConnect=false");
        IDatabase db = redis.GetDatabase();
        var acknowledged = new Dictionary<string, string>();
        for (int i = 0; i < 200; i++)
        {
            await SetUntilAcknowledgedAsync(db, $"key-{i}", $"before-{i}", acknowledged);
        }

        Assert.False(redis.GetServer(pair.PrimaryResp).IsReplica);

        // A subscriber of the secondary's sentinel port, as the library's own: it is told of the failover.
        using var subscriber = new TcpClient();
        await subscriber.ConnectAsync(secondarySentinel);
        var lines = new StreamReader(subscriber.GetStream(), Encoding.ASCII);
        await subscriber.GetStream().WriteAsync("*2\r\n$9\r\nSUBSCRIBE\r\n$14\r\n+switch-master\r\n"u8.ToArray());
        Assert.Equal(["*3", "$9", "subscribe", "$14", "+switch-master", ":1"], await ReadLinesAsync(lines, 6));

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

        string[] message = await ReadLinesAsync(lines, 7);
        Assert.Equal(["*3", "$7", "message", "$14", "+switch-master"], message[..5]);
        Assert.Equal($"default {pair.PrimaryResp.Address} {pair.PrimaryResp.Port} {pair.SecondaryResp.Address} {pair.SecondaryResp.Port}", message[6]);
    }

    private static async Task<string[]> ReadLinesAsync(StreamReader reader, int count)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var lines = new string[count];
        for (int i = 0; i < count; i++)
        {
            lines[i] = await reader.ReadLineAsync(timeout.Token) ?? throw new EndOfStreamException($"the sentinel port closed after {i} lines");
        }

        return lines;
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
