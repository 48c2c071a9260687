using System.Net;
using System.Text;
using MirrorKv.Store;

namespace MirrorKv.Adapter.Tests.Resp;

/// <summary>Connection and server commands: PING, ECHO, HELLO, SELECT, QUIT, CLIENT, INFO, ROLE, COMMAND, CONFIG, and the errors redis gives.</summary>
public class RespServerCommandTests
{
    [Fact]
    public async Task PingEchoSelect_AnswerAsRedisDoes()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        Assert.Equal("+PONG", (await client.CallAsync("PING")).ToString());
        Assert.Equal("$hi", (await client.CallAsync("ping", "hi")).ToString());
        Assert.Equal("$hello", (await client.CallAsync("ECHO", "hello")).ToString());
        Assert.Equal("+OK", (await client.CallAsync("SELECT", "0")).ToString());
        Assert.Equal("-ERR DB index is out of range", (await client.CallAsync("SELECT", "1")).ToString());
    }

    [Fact]
    public async Task UnknownCommandAndWrongArity_GetRedisErrors()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        Assert.Equal("-ERR unknown command 'HSET', with args beginning with: 'h' 'f' 'v' ", (await client.CallAsync("HSET", "h", "f", "v")).ToString());
        Assert.Equal("-ERR unknown command 'verylongcommandname', with args beginning with: ", (await client.CallAsync("verylongcommandname")).ToString());
        Assert.Equal("-ERR unknown command 'LPUSH', with args beginning with: 'l' 'v' ", (await client.CallAsync("LPUSH", "l", "v")).ToString());
        Assert.Equal("-ERR wrong number of arguments for 'get' command", (await client.CallAsync("GET")).ToString());
        Assert.Equal("-ERR wrong number of arguments for 'get' command", (await client.CallAsync("GET", "a", "b")).ToString());
        Assert.Equal("+PONG", (await client.CallAsync("PING")).ToString());
    }

    [Fact]
    public async Task Hello3_SwitchesToResp3_AndHelloWithAnotherVersionIsRefused()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        RespReply hello = await client.CallAsync("HELLO", "3", "SETNAME", "tester");
        Assert.Equal('%', hello.Type);
        Dictionary<string, RespReply> fields = Pairs(hello);
        Assert.Equal("redis", fields["server"].String);
        Assert.Equal(3, fields["proto"].Integer);
        Assert.Equal("master", fields["role"].String);
        Assert.Equal('_', (await client.CallAsync("GET", "missing")).Type);
        Assert.Equal("$tester", (await client.CallAsync("CLIENT", "GETNAME")).ToString());
        Assert.Equal('%', (await client.CallAsync("CONFIG", "GET", "databases")).Type);
        Assert.Equal('=', (await client.CallAsync("INFO", "server")).Type);
        Assert.Equal("-NOPROTO unsupported protocol version", (await client.CallAsync("HELLO", "4")).ToString());
        RespReply back = await client.CallAsync("HELLO", "2");
        Assert.Equal('*', back.Type);
        Assert.Equal(14, back.Items!.Count);
        Assert.Equal('$', (await client.CallAsync("GET", "missing")).Type);
    }

    [Fact]
    public async Task Quit_RepliesOk_ThenCloses()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        Assert.Equal("+OK", (await client.CallAsync("QUIT")).ToString());
        Assert.True(await client.WaitClosedAsync());
    }

    [Fact]
    public async Task Client_IdNameInfoListSetInfo()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        RespTestClient other = await nodes.ConnectAsync();
        long id = (await client.CallAsync("CLIENT", "ID")).Integer;
        Assert.NotEqual(id, (await other.CallAsync("CLIENT", "ID")).Integer);
        Assert.True((await client.CallAsync("CLIENT", "GETNAME")).IsNull);
        Assert.Equal("+OK", (await client.CallAsync("CLIENT", "SETNAME", "worker-1")).ToString());
        Assert.Equal("-ERR Client names cannot contain spaces, newlines or special characters.", (await client.CallAsync("CLIENT", "SETNAME", "a b")).ToString());
        Assert.Equal("+OK", (await client.CallAsync("CLIENT", "SETINFO", "LIB-NAME", "tests")).ToString());
        string info = (await client.CallAsync("CLIENT", "INFO")).String!;
        Assert.Contains($"id={id} ", info, StringComparison.Ordinal);
        Assert.Contains("name=worker-1 ", info, StringComparison.Ordinal);
        Assert.Contains("lib-name=tests", info, StringComparison.Ordinal);
        Assert.Contains("cmd=client", info, StringComparison.Ordinal);
        string list = (await client.CallAsync("CLIENT", "LIST")).String!;
        Assert.Equal(2, list.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.StartsWith("-ERR unknown subcommand", (await client.CallAsync("CLIENT", "KILL", "x")).ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Info_HasRedisSectionsAndFields_EachLineFieldColonValue()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        await client.CallAsync("MSET", "a", "1", "b", "2");
        await client.CallAsync("GET", "a");
        await client.CallAsync("GET", "missing");
        string info = (await client.CallAsync("INFO")).String!;
        var fields = new Dictionary<string, string>();
        foreach (string line in info.Split("\r\n"))
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            int colon = line.IndexOf(':', StringComparison.Ordinal);
            Assert.True(colon > 0, $"not a field line: '{line}'");
            fields[line[..colon]] = line[(colon + 1)..];
        }

        foreach (string section in new[] { "# Server", "# Clients", "# Memory", "# Stats", "# Replication", "# Keyspace" })
        {
            Assert.Contains(section + "\r\n", info, StringComparison.Ordinal);
        }

        Assert.Equal("master", fields["role"]);
        Assert.Equal("0", fields["connected_slaves"]);
        Assert.Equal("1", fields["connected_clients"]);
        Assert.Equal(nodes.Primary.RespEndPoint!.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), fields["tcp_port"]);
        Assert.Equal(nodes.Primary.Store.Options.MaxMemory.ToString(System.Globalization.CultureInfo.InvariantCulture), fields["maxmemory"]);
        Assert.Equal("keys=2,expires=0,avg_ttl=0", fields["db0"]);
        Assert.Equal("1", fields["keyspace_hits"]);
        Assert.Equal("1", fields["keyspace_misses"]);
        Assert.True(long.Parse(fields["total_commands_processed"], System.Globalization.CultureInfo.InvariantCulture) >= 3);
        Assert.True(long.Parse(fields["used_memory"], System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Equal(40, fields["run_id"].Length);

        string memoryOnly = (await client.CallAsync("INFO", "memory")).String!;
        Assert.StartsWith("# Memory\r\n", memoryOnly, StringComparison.Ordinal);
        Assert.DoesNotContain("# Server", memoryOnly, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Command_CountInfoDocsList_DescribeTheServedCommands()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        long count = (await client.CallAsync("COMMAND", "COUNT")).Integer;
        Assert.True(count >= 30);
        Assert.Equal(count, (await client.CallAsync("COMMAND")).Items!.Count);
        Assert.Equal(count, (await client.CallAsync("COMMAND", "LIST")).Items!.Count);
        RespReply info = await client.CallAsync("COMMAND", "INFO", "get", "nosuch", "MSET");
        Assert.Equal("get", info.Items![0].Items![0].String);
        Assert.Equal(2, info.Items[0].Items![1].Integer);
        Assert.True(info.Items[1].IsNull);
        Assert.Equal(-3, info.Items[2].Items![1].Integer);
        Assert.Equal(2, info.Items[2].Items![5].Integer);
        RespReply docs = await client.CallAsync("COMMAND", "DOCS", "set");
        Assert.Equal("set", docs.Items![0].String);
        Assert.Equal("string", Pairs(docs.Items[1])["group"].String);
    }

    [Fact]
    public async Task ConfigGet_AnswersTheKeysClientsAskFor_AndConfigSetIsRefused()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        Dictionary<string, RespReply> values = Pairs(await client.CallAsync("CONFIG", "GET", "maxmemory", "databases", "save", "appendonly"));
        Assert.Equal(nodes.Primary.Store.Options.MaxMemory.ToString(System.Globalization.CultureInfo.InvariantCulture), values["maxmemory"].String);
        Assert.Equal("1", values["databases"].String);
        Assert.Equal("", values["save"].String);
        Assert.Equal("no", values["appendonly"].String);
        Dictionary<string, RespReply> pattern = Pairs(await client.CallAsync("CONFIG", "GET", "maxmemory*"));
        Assert.Equal(["maxmemory", "maxmemory-policy", "maxmemory-samples"], pattern.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("noeviction", pattern["maxmemory-policy"].String);
        Assert.Empty((await client.CallAsync("CONFIG", "GET", "nosuch")).Items!);
        Assert.StartsWith("-ERR CONFIG SET is not supported", (await client.CallAsync("CONFIG", "SET", "maxmemory", "1")).ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(EvictionPolicy.AllKeysLru, "allkeys-lru")]
    [InlineData(EvictionPolicy.AllKeysLfu, "allkeys-lfu")]
    [InlineData(EvictionPolicy.VolatileTtl, "volatile-ttl")]
    public async Task ConfigGetAndInfo_NameTheEvictionPolicy(EvictionPolicy policy, string name)
    {
        await using RespNodes nodes = await RespNodes.StartAsync(tweak: o => o with { Store = o.Store with { Eviction = policy } });
        RespTestClient client = await nodes.ConnectAsync();
        Dictionary<string, RespReply> values = Pairs(await client.CallAsync("CONFIG", "GET", "maxmemory-policy", "lfu-*"));
        Assert.Equal(name, values["maxmemory-policy"].String);
        Assert.Equal("10", values["lfu-log-factor"].String);
        Assert.Equal("1", values["lfu-decay-time"].String);
        Assert.Contains($"maxmemory_policy:{name}\r\n", (await client.CallAsync("INFO", "memory")).String!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Set_FullStoreUnderVolatileTtl_EvictsOnlyKeysWithATtl_ThenRefusesWithOom()
    {
        StoreOptions small = new() { MaxMemory = 256UL << 10, SlabSize = 16 << 10, Eviction = EvictionPolicy.VolatileTtl };
        await using RespNodes nodes = await RespNodes.StartAsync(tweak: o => o with { Store = small });
        RespTestClient client = await nodes.ConnectAsync();
        string value = new('v', 2000);
        Assert.Equal("OK", (await client.CallAsync("SET", "expiring", value, "EX", "1000")).String);
        int written = 0;
        RespReply reply;
        while ((reply = await client.CallAsync("SET", $"k{written}", value)).String == "OK")
        {
            written++;
        }

        Assert.StartsWith("-OOM command not allowed: the store is full and no key with an expiry is left to evict", reply.ToString(), StringComparison.Ordinal);
        Assert.Contains("--max-memory", reply.ToString(), StringComparison.Ordinal);
        Assert.Equal(0, (await client.CallAsync("EXISTS", "expiring")).Integer);
        Assert.Equal(written, (await client.CallAsync("DBSIZE")).Integer);
        Assert.Contains("evicted_keys:1\r\n", (await client.CallAsync("INFO", "stats")).String!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InlineCommandsAndPipelines_AreServedInOrder()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        await client.SendAsync(Encoding.ASCII.GetBytes("PING\r\nset inline value\nGET inline\r\n\r\n"));
        Assert.Equal("+PONG", (await client.ReadAsync()).ToString());
        Assert.Equal("+OK", (await client.ReadAsync()).ToString());
        Assert.Equal("$value", (await client.ReadAsync()).ToString());

        var batch = new List<byte>();
        for (int i = 0; i < 500; i++)
        {
            batch.AddRange(RespTestClient.Encode("SET", $"p{i}", i));
            batch.AddRange(RespTestClient.Encode("GET", $"p{i}"));
        }

        await client.SendAsync([.. batch]);
        for (int i = 0; i < 500; i++)
        {
            Assert.Equal("+OK", (await client.ReadAsync()).ToString());
            Assert.Equal($"${i}", (await client.ReadAsync()).ToString());
        }
    }

    [Fact]
    public async Task InlineCommands_TakeRedisQuoting_AndAnUnbalancedQuoteClosesTheConnection()
    {
        // As typed into telnet by someone used to redis: quotes group words, escapes make any byte.
        await using RespNodes nodes = await RespNodes.StartAsync(withSecondary: true);
        RespTestClient client = await nodes.ConnectAsync();
        await client.SendAsync(Encoding.ASCII.GetBytes("SET \"greeting key\" \"hello\\tworld\\x21\"\r\nGET 'greeting key'\r\n"));
        Assert.Equal("+OK", (await client.ReadAsync()).ToString());
        Assert.Equal("$hello\tworld!", (await client.ReadAsync()).ToString());

        // The write was replicated like any other: the secondary serves it (array form this time).
        RespTestClient onSecondary = await nodes.ConnectAsync(nodes.Secondary);
        Assert.Equal("$hello\tworld!", (await onSecondary.CallAsync("GET", "greeting key")).ToString());

        await client.SendAsync(Encoding.ASCII.GetBytes("SET a \"unbalanced\r\n"));
        Assert.Equal("-ERR Protocol error: unbalanced quotes in request", (await client.ReadAsync()).ToString());
        Assert.Equal("$hello\tworld!", (await onSecondary.CallAsync("GET", "greeting key")).ToString());
    }

    [Fact]
    public async Task RespPort_IsTheConfiguredOne_AndNodesWithoutItServeNoResp()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        Assert.Equal(IPAddress.Loopback, nodes.Primary.RespEndPoint!.Address);
        Assert.NotEqual(nodes.Primary.EndPoint.Port, nodes.Primary.RespEndPoint.Port);
        await using MirrorKvNode plain = await MirrorKvNode.StartAsync(RespNodes.Options() with { RespListenEndPoint = null }, new Transport.Tcp.TcpTransport());
        Assert.Null(plain.RespEndPoint);
    }

    internal static Dictionary<string, RespReply> Pairs(RespReply map)
    {
        var pairs = new Dictionary<string, RespReply>();
        for (int i = 0; i + 1 < map.Items!.Count; i += 2)
        {
            pairs[map.Items[i].String!] = map.Items[i + 1];
        }

        return pairs;
    }
}
