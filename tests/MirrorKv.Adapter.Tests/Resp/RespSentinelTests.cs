using System.Globalization;

namespace MirrorKv.Adapter.Tests.Resp;

/// <summary>
/// SENTINEL on the RESP port: both nodes answer as the pair's sentinels with the primary's, the replica's and
/// the other sentinel's RESP endpoints, learned in the peer handshake; unknown names and a lone node answer
/// as redis's sentinel does when it knows no such master.
/// </summary>
public class RespSentinelTests
{
    [Fact]
    public async Task BothNodes_NameThePrimaryTheReplicaAndEachOther()
    {
        await using RespNodes nodes = await RespNodes.StartAsync(withSecondary: true, tweak: WithSentinel);
        var primaryResp = nodes.Primary.RespEndPoint!;
        var secondaryResp = nodes.Secondary!.RespEndPoint!;
        foreach (MirrorKvNode asked in new[] { nodes.Primary, nodes.Secondary })
        {
            RespTestClient client = await nodes.ConnectSentinelAsync(asked);
            RespReply master = await client.CallAsync("SENTINEL", "get-master-addr-by-name", "default");
            Assert.Equal([primaryResp.Address.ToString(), Port(primaryResp)], master.Items!.Select(i => i.String).ToArray());

            RespReply replicas = await client.CallAsync("SENTINEL", "replicas", "default");
            Dictionary<string, RespReply> replica = RespServerCommandTests.Pairs(Assert.Single(replicas.Items!));
            Assert.Equal((secondaryResp.Address.ToString(), Port(secondaryResp), "slave"), (replica["ip"].String, replica["port"].String, replica["flags"].String));
            Assert.Equal(Port(primaryResp), replica["master-port"].String);
            Assert.Single((await client.CallAsync("SENTINEL", "slaves", "default")).Items!);

            // A node does not know its peer's sentinel port: clients keep the sentinels they were given.
            Assert.Empty((await client.CallAsync("SENTINEL", "sentinels", "default")).Items!);

            Dictionary<string, RespReply> described = RespServerCommandTests.Pairs(await client.CallAsync("SENTINEL", "master", "default"));
            Assert.Equal(("default", Port(primaryResp), "master", "1"), (described["name"].String, described["port"].String, described["flags"].String, described["num-slaves"].String));
            Assert.Single((await client.CallAsync("SENTINEL", "masters")).Items!);

            Assert.True((await client.CallAsync("SENTINEL", "get-master-addr-by-name", "other")).IsNull);
            Assert.Empty((await client.CallAsync("SENTINEL", "replicas", "other")).Items!);
            Assert.StartsWith("ERR No such master", (await client.CallAsync("SENTINEL", "master", "other")).Text, StringComparison.Ordinal);
            Assert.True((await client.CallAsync("SENTINEL", "failover", "default")).IsError);
        }
    }

    [Fact]
    public async Task ALonePrimary_NamesItself_WithNoReplicaAndNoOtherSentinel()
    {
        await using RespNodes nodes = await RespNodes.StartAsync(tweak: o => o with { PairName = "sessions" });
        RespTestClient client = await nodes.ConnectAsync();
        RespReply master = await client.CallAsync("SENTINEL", "get-master-addr-by-name", "sessions");
        Assert.Equal(Port(nodes.Primary.RespEndPoint!), master.Items![1].String);
        Assert.Empty((await client.CallAsync("SENTINEL", "replicas", "sessions")).Items!);
        Assert.Empty((await client.CallAsync("SENTINEL", "sentinels", "sessions")).Items!);
        Assert.True((await client.CallAsync("SENTINEL", "get-master-addr-by-name", "default")).IsNull);
    }

    [Fact]
    public async Task TheSentinelPort_LooksLikeASentinel_AndServesNoData()
    {
        await using RespNodes nodes = await RespNodes.StartAsync(withSecondary: true, tweak: WithSentinel);
        RespTestClient sentinel = await nodes.ConnectSentinelAsync(nodes.Secondary!);
        string info = (await sentinel.CallAsync("INFO")).String!;
        Assert.Contains("redis_mode:sentinel\r\n", info, StringComparison.Ordinal);
        Assert.Contains($"master0:name=default,status=ok,address={nodes.Primary.RespEndPoint},slaves=1,sentinels=1", info, StringComparison.Ordinal);
        Assert.DoesNotContain("# Keyspace", info, StringComparison.Ordinal);
        RespReply role = await sentinel.CallAsync("ROLE");
        Assert.Equal(("sentinel", "default"), (role.Items![0].String, role.Items[1].Items![0].String));
        Assert.StartsWith("ERR unknown command 'GET'", (await sentinel.CallAsync("GET", "k")).Text, StringComparison.Ordinal);
        Assert.StartsWith("ERR unknown command 'SET'", (await sentinel.CallAsync("SET", "k", "v")).Text, StringComparison.Ordinal);
        Assert.Equal("PONG", (await sentinel.CallAsync("PING")).String);

        // The data port stays a redis server: standalone, its replication role, every data command.
        RespTestClient data = await nodes.ConnectAsync(nodes.Secondary);
        Assert.Contains("redis_mode:standalone\r\n", (await data.CallAsync("INFO", "server")).String!, StringComparison.Ordinal);
        Assert.Equal("slave", (await data.CallAsync("ROLE")).Items![0].String);
    }

    private static NodeOptions WithSentinel(NodeOptions options) => options with { SentinelListenEndPoint = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0) };

    private static string Port(System.Net.IPEndPoint endPoint) => endPoint.Port.ToString(CultureInfo.InvariantCulture);
}
