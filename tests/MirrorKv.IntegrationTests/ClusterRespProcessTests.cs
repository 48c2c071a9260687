using System.Globalization;
using System.Net;
using MirrorKv.Cli.Keys;
using MirrorKv.Client;
using MirrorKv.Protocol;
using StackExchange.Redis;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// The RESP ports of a real three-pair cluster (real etcd, real processes): a keyed command of another pair's
/// slot is refused with redis Cluster's MOVED naming the owner's primary's RESP endpoint and stores nothing,
/// keys of different slots get CROSSSLOT, the CLUSTER commands describe the cluster, and redis-cli -c and
/// StackExchange.Redis given one node write and read keys of every pair at their owners.
/// </summary>
[Collection(nameof(ProcessTests))]
public class ClusterRespProcessTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task RespCommandOfAnotherPairsKey_AnswersMovedWithTheOwnersRespEndPoint_AndStoresNothing()
    {
        await using ProcessCluster cluster = await ProcessCluster.StartAsync(resp: true);
        (IPEndPoint p1Resp, IPEndPoint p1SecondaryResp) = cluster.RespEndPoints[0];
        IPEndPoint p2Resp = cluster.RespEndPoints[1].Primary;
        string foreign = cluster.KeyOf("p2", 0);
        string moved = $"MOVED {HashSlot.Of(foreign)} {p2Resp.Address}:{p2Resp.Port}";
        string[] tagged = [.. Enumerable.Range(0, 3).Select(i => $"{{{foreign}}}:{i}")];

        await using RespConnection p1 = await RespConnection.ConnectAsync(p1Resp, Timeout, default);
        string[][] refused =
        [
            ["SET", foreign, "x"], ["SET", foreign, "x", "EX", "100"], ["SETEX", foreign, "100", "x"], ["PSETEX", foreign, "100000", "x"],
            ["SETNX", foreign, "x"], ["GET", foreign], ["GETDEL", foreign], ["DEL", foreign], ["UNLINK", foreign], ["EXISTS", foreign],
            ["EXPIRE", foreign, "100"], ["PEXPIRE", foreign, "100"], ["PERSIST", foreign], ["TTL", foreign], ["PTTL", foreign],
            ["INCR", foreign], ["DECR", foreign], ["INCRBY", foreign, "2"], ["DECRBY", foreign, "2"], ["STRLEN", foreign], ["TYPE", foreign],
            ["MGET", .. tagged], ["MSET", tagged[0], "a", tagged[1], "b"], ["DEL", .. tagged], ["EXISTS", .. tagged],
        ];
        foreach (string[] command in refused)
        {
            RespReply reply = await p1.SendAsync(default, command);
            Assert.True(reply.IsError && reply.Text == moved, $"{string.Join(' ', command)}: {reply.Text}");
        }

        // Keys of two slots in one command: redis's CROSSSLOT, even when both are this pair's.
        string own = cluster.KeyOf("p1", 0);
        string ownToo = cluster.KeyOf("p1", 1);
        Assert.NotEqual(HashSlot.Of(own), HashSlot.Of(ownToo));
        string[][] crossSlot = [["MSET", own, "a", foreign, "b"], ["MGET", own, ownToo], ["DEL", own, foreign]];
        foreach (string[] command in crossSlot)
        {
            RespReply reply = await p1.SendAsync(default, command);
            Assert.Equal("CROSSSLOT Keys in request don't hash to the same slot", reply.Text);
        }

        // Nothing of the refused commands was stored anywhere; the pair's own keys are served, on both nodes.
        foreach ((IPEndPoint primary, _) in cluster.RespEndPoints)
        {
            await using RespConnection node = await RespConnection.ConnectAsync(primary, Timeout, default);
            Assert.Equal(0, (await node.SendAsync(default, "DBSIZE")).Integer);
        }

        Assert.Equal("OK", (await p1.SendAsync(default, "SET", own, "mine")).Text);
        Assert.Equal("OK", (await p1.SendAsync(default, "MSET", $"{{{own}}}a", "1", $"{{{own}}}b", "2")).Text);
        await using RespConnection secondary = await RespConnection.ConnectAsync(p1SecondaryResp, Timeout, default);
        Assert.Equal("mine", (await secondary.SendAsync(default, "GET", own)).Text);
        Assert.Equal(moved, (await secondary.SendAsync(default, "GET", foreign)).Text);

        // A write of its own pair's key at the secondary goes to the pair's primary, as a redis replica's does.
        Assert.Equal($"MOVED {HashSlot.Of(own)} {p1Resp.Address}:{p1Resp.Port}", (await secondary.SendAsync(default, "SET", own, "elsewhere")).Text);
        Assert.Equal("mine", (await p1.SendAsync(default, "GET", own)).Text);

        // What redis clients ask of a cluster.
        Assert.Equal(12182, (await p1.SendAsync(default, "CLUSTER", "KEYSLOT", "foo")).Integer);
        string info = (await p1.SendAsync(default, "CLUSTER", "INFO")).Text;
        Assert.Contains("cluster_state:ok\r\n", info, StringComparison.Ordinal);
        Assert.Contains("cluster_known_nodes:6\r\n", info, StringComparison.Ordinal);
        Assert.Contains("cluster_size:3\r\n", info, StringComparison.Ordinal);
        string clusterSection = (await p1.SendAsync(default, "INFO", "cluster")).Text;
        Assert.Contains("cluster_enabled:1\r\n", clusterSection, StringComparison.Ordinal);
        Assert.Contains("redis_mode:cluster\r\n", (await p1.SendAsync(default, "INFO", "server")).Text, StringComparison.Ordinal);
        int redirects = int.Parse(clusterSection.Split("\r\n").Single(l => l.StartsWith("mirrorkv_redirects:", StringComparison.Ordinal)).Split(':')[1], CultureInfo.InvariantCulture);
        Assert.Equal(refused.Length, redirects);

        // CLUSTER SLOTS: each range at its owner's primary first, then the secondary, by RESP endpoint.
        RespReply slots = await p1.SendAsync(default, "CLUSTER", "SLOTS");
        Assert.Equal(3, slots.Items!.Count);
        for (int i = 0; i < 3; i++)
        {
            RespReply range = slots.Items[i];
            Assert.Equal((cluster.Map.Ranges[i].First, cluster.Map.Ranges[i].Last), ((int)range.Items![0].Integer, (int)range.Items[1].Integer));
            Assert.Equal(
                [cluster.RespEndPoints[i].Primary, cluster.RespEndPoints[i].Secondary],
                range.Items.Skip(2).Select(n => new IPEndPoint(IPAddress.Parse(n.Items![0].Text), (int)n.Items[1].Integer)));
        }

        // CLUSTER NODES: six lines, one myself, three masters with their slots, three replicas of them.
        string[] nodes = (await p1.SendAsync(default, "CLUSTER", "NODES")).Text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(6, nodes.Length);
        Assert.Single(nodes, l => l.Split(' ')[2] == "myself,master" && l.Contains($" {p1Resp.Address}:{p1Resp.Port}@", StringComparison.Ordinal) && l.EndsWith(" 0-5461", StringComparison.Ordinal));
        Assert.Equal(3, nodes.Count(l => l.Split(' ')[2] == "slave"));
        Assert.Equal((await p1.SendAsync(default, "CLUSTER", "MYID")).Text, nodes.Single(l => l.Contains("myself", StringComparison.Ordinal)).Split(' ')[0]);
    }

    [Fact]
    public async Task RedisCliInClusterMode_GivenOneNode_SetsAndGetsKeysOfEveryPair()
    {
        RedisCli.Require();
        await using ProcessCluster cluster = await ProcessCluster.StartAsync(resp: true);
        IPEndPoint entry = cluster.RespEndPoints[2].Secondary;
        string[] keys = [.. cluster.Pairs.SelectMany(p => Enumerable.Range(0, 3).Select(i => cluster.KeyOf(p.Id, i, "cli")))];
        foreach (string key in keys)
        {
            Assert.Equal("OK", await RedisCli.RunAsync(entry, "-c", "SET", key, $"v-{key}"));
        }

        foreach (string key in keys)
        {
            Assert.Equal($"v-{key}", await RedisCli.RunAsync(cluster.RespEndPoints[0].Primary, "-c", "GET", key));
        }

        // Each key is stored at its owner only.
        for (int i = 0; i < cluster.Pairs.Count; i++)
        {
            Assert.Equal("3", await RedisCli.RunAsync(cluster.RespEndPoints[i].Primary, "DBSIZE"));
        }
    }

    [Fact]
    public async Task MirrorkvKeyCommands_GivenAnyNode_ReachTheOwningPair_NativeAndResp()
    {
        await using ProcessCluster cluster = await ProcessCluster.StartAsync(resp: true);
        string native = cluster.KeyOf("p2", 0, "native");
        string viaResp = cluster.KeyOf("p3", 0, "resp");
        static (int, string) Run((int Code, string Stdout, string Stderr) r) => (r.Code, r.Stdout + r.Stderr);

        // Native port: p1's secondary is given a key of p2 (no longer exit 6 on Moved, nor 5 for a secondary).
        Assert.Equal((0, "OK\n"), Run(await CliProcess.RunAsync("set", cluster.Pairs[0].Secondary.EndPoint.ToString(), native, "n")));
        Assert.Equal((0, "n\n"), Run(await CliProcess.RunAsync("get", cluster.Pairs[2].Primary.EndPoint.ToString(), native)));

        // RESP port: the MOVED is followed to the owner, as redis-cli -c does.
        Assert.Equal((0, "OK\n"), Run(await CliProcess.RunAsync("set", $"redis://{cluster.RespEndPoints[0].Primary}", viaResp, "r")));
        Assert.Equal((0, "r\n"), Run(await CliProcess.RunAsync("get", $"redis://{cluster.RespEndPoints[1].Secondary}", viaResp)));

        // Each key was stored at its owner only.
        Assert.Equal(new[] { 0UL, 1UL, 1UL }, await Task.WhenAll(cluster.Pairs.Select(async p => (await MirrorKvAdmin.GetStatusAsync(p.Primary.EndPoint)).Entries)));
        Assert.Equal((0, "1\n"), Run(await CliProcess.RunAsync("del", $"redis://{cluster.RespEndPoints[0].Secondary}", viaResp)));
        Assert.Equal((0, "1\n"), Run(await CliProcess.RunAsync("del", cluster.Pairs[0].Primary.EndPoint.ToString(), native)));
        Assert.Equal(new[] { 0UL, 0UL, 0UL }, await Task.WhenAll(cluster.Pairs.Select(async p => (await MirrorKvAdmin.GetStatusAsync(p.Primary.EndPoint)).Entries)));
    }

    [Fact]
    public async Task StackExchangeRedis_GivenOneNode_RoutesKeysOfEveryPairToTheirOwners()
    {
        await using ProcessCluster cluster = await ProcessCluster.StartAsync(resp: true);
        await using ConnectionMultiplexer redis = await ConnectionMultiplexer.ConnectAsync($"{cluster.RespEndPoints[1].Secondary},connectTimeout=10000,syncTimeout=5000,abortConnect=false");

        // It found the whole cluster from one node: six servers, the primaries as masters.
        IServer[] servers = redis.GetServers();
        Assert.Equal(6, servers.Length);
        Assert.All(servers, s => Assert.Equal(ServerType.Cluster, s.ServerType));
        Assert.Equal(
            cluster.RespEndPoints.Select(r => r.Primary).OrderBy(e => e.Port),
            servers.Where(s => !s.IsReplica).Select(s => (IPEndPoint)s.EndPoint).OrderBy(e => e.Port));

        // The library's own probes at connect (a key sent to every server) may be redirected; its data is not.
        long redirectsBefore = await RedirectsAsync(redis, cluster);
        IDatabase db = redis.GetDatabase();
        string[] keys = [.. Enumerable.Range(0, 300).Select(i => $"se:{i}")];
        await Task.WhenAll(keys.Select(k => db.StringSetAsync(k, $"v-{k}")));
        RedisValue[] values = await Task.WhenAll(keys.Select(k => db.StringGetAsync(k)));
        Assert.Equal(keys.Select(k => $"v-{k}"), values.Select(v => (string?)v));
        Assert.Equal(redirectsBefore, await RedirectsAsync(redis, cluster));

        // Every pair holds exactly its keys.
        for (int i = 0; i < cluster.Pairs.Count; i++)
        {
            IServer primary = redis.GetServer(cluster.RespEndPoints[i].Primary);
            Assert.Equal(keys.Count(k => cluster.Map.Owner(HashSlot.Of(k)).Id == cluster.Pairs[i].Id), await primary.DatabaseSizeAsync());
        }

        // Keys sharing a hash tag in one multi-key command.
        RedisKey[] tagged = [.. Enumerable.Range(0, 5).Select(i => (RedisKey)$"{{user:42}}:{i}")];
        await db.StringSetAsync([.. tagged.Select(k => new KeyValuePair<RedisKey, RedisValue>(k, (string)k!))]);
        Assert.Equal(tagged.Select(k => (string?)k), (await db.StringGetAsync(tagged)).Select(v => (string?)v));
        Assert.Equal(5, await db.KeyDeleteAsync(tagged));
    }

    // Keyed requests every node refused for another pair's slot so far (INFO cluster's mirrorkv_redirects).
    private static async Task<long> RedirectsAsync(ConnectionMultiplexer redis, ProcessCluster cluster)
    {
        long redirects = 0;
        foreach (IPEndPoint node in cluster.RespEndPoints.SelectMany(r => new[] { r.Primary, r.Secondary }))
        {
            string info = (string)(await redis.GetServer(node).ExecuteAsync("INFO", "cluster"))!;
            redirects += long.Parse(info.Split("\r\n").Single(l => l.StartsWith("mirrorkv_redirects:", StringComparison.Ordinal)).Split(':')[1], CultureInfo.InvariantCulture);
        }

        return redirects;
    }
}
