using System.Globalization;
using MirrorKv.Protocol;

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
        Assert.Equal("ERR unknown command 'KEYS', with args beginning with: '*' ", (await sentinel.CallAsync("KEYS", "*")).Text);
        Assert.Equal("PONG", (await sentinel.CallAsync("PING")).String);

        // The data port stays a redis server: standalone, its replication role, every data command.
        RespTestClient data = await nodes.ConnectAsync(nodes.Secondary);
        Assert.Contains("redis_mode:standalone\r\n", (await data.CallAsync("INFO", "server")).String!, StringComparison.Ordinal);
        Assert.Equal("slave", (await data.CallAsync("ROLE")).Items![0].String);
    }

    [Fact]
    public async Task Subscriptions_AreConfirmed_RestrictTheConnection_AndEndWithUnsubscribe()
    {
        await using RespNodes nodes = await RespNodes.StartAsync(tweak: WithSentinel);
        RespTestClient sentinel = await nodes.ConnectSentinelAsync(nodes.Primary);
        Assert.Equal("subscribe +switch-master 1", Flat(await sentinel.CallAsync("SUBSCRIBE", "+switch-master")));
        await sentinel.SendAsync(RespTestClient.Encode("PSUBSCRIBE", "+switch-*", "+sdown"));
        Assert.Equal("psubscribe +switch-* 2", Flat(await sentinel.ReadAsync()));
        Assert.Equal("psubscribe +sdown 3", Flat(await sentinel.ReadAsync()));

        // RESP2 subscribed mode: only the pub/sub commands, PING (as a two-item array) and QUIT.
        Assert.StartsWith("ERR Can't execute 'info'", (await sentinel.CallAsync("INFO")).Text, StringComparison.Ordinal);
        Assert.StartsWith("ERR Can't execute 'sentinel'", (await sentinel.CallAsync("SENTINEL", "masters")).Text, StringComparison.Ordinal);
        Assert.Equal("pong ", Flat(await sentinel.CallAsync("PING")));
        Assert.Equal("pong hi", Flat(await sentinel.CallAsync("PING", "hi")));

        Assert.Equal("unsubscribe +switch-master 2", Flat(await sentinel.CallAsync("UNSUBSCRIBE", "+switch-master")));
        await sentinel.SendAsync(RespTestClient.Encode("PUNSUBSCRIBE"));
        string[] left = [Flat(await sentinel.ReadAsync()), Flat(await sentinel.ReadAsync())];
        Assert.Equal(["punsubscribe +sdown 1", "punsubscribe +switch-* 0"], left);
        RespReply none = await sentinel.CallAsync("PUNSUBSCRIBE");
        Assert.True(none.Items![1].IsNull);

        // Out of subscribed mode, everything the sentinel port serves works again.
        Assert.Equal("PONG", (await sentinel.CallAsync("PING")).String);
        Assert.Single((await sentinel.CallAsync("SENTINEL", "masters")).Items!);

        // The data port has no pub/sub.
        RespTestClient data = await nodes.ConnectAsync();
        Assert.StartsWith("ERR unknown command 'SUBSCRIBE'", (await data.CallAsync("SUBSCRIBE", "+switch-master")).Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task APromotion_IsPublishedAsSwitchMaster_ToChannelAndPatternSubscribers()
    {
        await using RespNodes nodes = await RespNodes.StartAsync(withSecondary: true, tweak: WithSentinel);
        System.Net.IPEndPoint oldPrimary = nodes.Primary.RespEndPoint!;
        System.Net.IPEndPoint newPrimary = nodes.Secondary!.RespEndPoint!;
        RespTestClient channel = await nodes.ConnectSentinelAsync(nodes.Secondary);
        Assert.Equal("subscribe +switch-master 1", Flat(await channel.CallAsync("SUBSCRIBE", "+switch-master")));
        RespTestClient pattern = await nodes.ConnectSentinelAsync(nodes.Secondary);
        Assert.Equal('%', (await pattern.CallAsync("HELLO", "3")).Type);
        Assert.Equal("psubscribe * 1", Flat(await pattern.CallAsync("PSUBSCRIBE", "*")));

        // The primary stops; the secondary finds it gone and promotes itself.
        await nodes.StopPrimaryAsync();
        await Waits.UntilAsync(() => nodes.Secondary.Role == NodeRole.Primary, "the secondary to promote itself");
        string expected = $"default {oldPrimary.Address} {oldPrimary.Port} {newPrimary.Address} {newPrimary.Port}";
        RespReply message = await channel.ReadAsync(seconds: 20);
        Assert.Equal('*', message.Type);
        Assert.Equal($"message +switch-master {expected}", Flat(message));
        RespReply push = await pattern.ReadAsync(seconds: 20);
        Assert.Equal('>', push.Type);
        Assert.Equal($"pmessage * +switch-master {expected}", Flat(push));
        Assert.Equal(NodeRole.Primary, nodes.Secondary.Role);
    }

    private static string Flat(RespReply reply) => string.Join(" ", reply.Items!.Select(i => i.Type == ':' ? i.Integer.ToString(CultureInfo.InvariantCulture) : i.String));

    private static NodeOptions WithSentinel(NodeOptions options) => options with { SentinelListenEndPoint = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0) };

    private static string Port(System.Net.IPEndPoint endPoint) => endPoint.Port.ToString(CultureInfo.InvariantCulture);
}
