using System.Text;
using MirrorKv.Client;
using MirrorKv.Memory;

namespace MirrorKv.Adapter.Tests.Resp;

/// <summary>
/// A write through RESP is a write like any other: replicated synchronously before its reply, visible to
/// one-sided readers at once; a secondary serves reads and refuses writes with READONLY.
/// </summary>
public class RespReplicationTests
{
    [Fact]
    public async Task RespWrite_IsOnTheSecondaryWhenAcknowledged_AndReadOneSidedByMirrorKvClient()
    {
        await using RespNodes nodes = await RespNodes.StartAsync(withSecondary: true);
        RespTestClient client = await nodes.ConnectAsync();
        await using MirrorKvClient reader = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [nodes.Primary.EndPoint] });
        for (int i = 0; i < 200; i++)
        {
            string key = $"k{i}";
            byte[] value = Encoding.UTF8.GetBytes(new string((char)('a' + (i % 26)), 1 + (i * 13 % 900)));
            Assert.Equal("+OK", (await client.CallAsync("SET", key, value)).ToString());

            // Synchronous replication: by the time the reply arrived, the secondary had applied the write.
            Assert.True(nodes.Secondary!.Store.TryLookup(Encoding.UTF8.GetBytes(key), out _, out _), $"{key} acknowledged but not on the secondary");
            Assert.Equal(value, await reader.GetAsync(key));
        }

        Assert.True(reader.Stats.Reads >= 200, "the client read through its pointers, one-sided");
        Assert.Equal(200, (await (await nodes.ConnectAsync(nodes.Secondary!)).CallAsync("DBSIZE")).Integer);
    }

    [Fact]
    public async Task PipelinedWritesAndReads_RepliesStayInRequestOrder_WhileWritesWaitForTheSecondary()
    {
        await using RespNodes nodes = await RespNodes.StartAsync(withSecondary: true);
        RespTestClient client = await nodes.ConnectAsync();
        var batch = new List<byte>();
        for (int i = 0; i < 300; i++)
        {
            batch.AddRange(RespTestClient.Encode("GET", $"k{i}"));
            batch.AddRange(RespTestClient.Encode("SET", $"k{i}", $"v{i}"));
            batch.AddRange(RespTestClient.Encode("GET", $"k{i}"));
            batch.AddRange(RespTestClient.Encode("PING"));
        }

        await client.SendAsync([.. batch]);
        for (int i = 0; i < 300; i++)
        {
            Assert.True((await client.ReadAsync()).IsNull);
            Assert.Equal("+OK", (await client.ReadAsync()).ToString());
            Assert.True(nodes.Secondary!.Store.TryLookup(Encoding.UTF8.GetBytes($"k{i}"), out _, out _), $"k{i} acknowledged before the secondary applied it");
            Assert.Equal($"$v{i}", (await client.ReadAsync()).ToString());
            Assert.Equal("+PONG", (await client.ReadAsync()).ToString());
        }
    }

    [Fact]
    public async Task QuitRightAfterWrites_ClosesOnlyOnceTheirRepliesHaveLeft()
    {
        await using RespNodes nodes = await RespNodes.StartAsync(withSecondary: true);
        for (int round = 0; round < 20; round++)
        {
            RespTestClient client = await nodes.ConnectAsync();
            await client.SendAsync([.. RespTestClient.Encode("SET", $"k{round}", "v"), .. RespTestClient.Encode("INCR", "n"), .. RespTestClient.Encode("QUIT")]);
            Assert.Equal("+OK", (await client.ReadAsync()).ToString());
            Assert.Equal(round + 1, (await client.ReadAsync()).Integer);
            Assert.Equal("+OK", (await client.ReadAsync()).ToString());
            Assert.True(await client.WaitClosedAsync());
        }
    }

    [Fact]
    public async Task EveryKindOfWrite_LeavesTheSecondaryEqualToThePrimary()
    {
        await using RespNodes nodes = await RespNodes.StartAsync(withSecondary: true);
        RespTestClient primary = await nodes.ConnectAsync();
        RespTestClient secondary = await nodes.ConnectAsync(nodes.Secondary!);
        await primary.CallAsync("MSET", "a", "1", "b", "2", "c", "3", "d", "4");
        await primary.CallAsync("INCRBY", "a", "41");
        await primary.CallAsync("DEL", "b");
        Assert.Equal("3", (await primary.CallAsync("GETDEL", "c")).String);
        await primary.CallAsync("EXPIRE", "d", "1000");
        await primary.CallAsync("SET", "e", "5", "PX", "500000", "NX");
        Assert.Equal("42", (await secondary.CallAsync("GET", "a")).String);
        Assert.True((await secondary.CallAsync("GET", "b")).IsNull);
        Assert.True((await secondary.CallAsync("GET", "c")).IsNull);
        Assert.InRange((await secondary.CallAsync("TTL", "d")).Integer, 990, 1000);
        Assert.InRange((await secondary.CallAsync("PTTL", "e")).Integer, 490_000, 500_000);
        Assert.Equal(3, (await secondary.CallAsync("DBSIZE")).Integer);
        await primary.CallAsync("FLUSHDB");
        Assert.Equal(0, (await secondary.CallAsync("DBSIZE")).Integer);
    }

    [Fact]
    public async Task Secondary_ServesReads_AndAnswersEveryWriteWithReadOnly()
    {
        await using RespNodes nodes = await RespNodes.StartAsync(withSecondary: true);
        RespTestClient primary = await nodes.ConnectAsync();
        await primary.CallAsync("SET", "k", "v", "EX", "100");
        RespTestClient secondary = await nodes.ConnectAsync(nodes.Secondary!);
        Assert.Equal("v", (await secondary.CallAsync("GET", "k")).String);
        Assert.Equal("*[$v, (nil)]", (await secondary.CallAsync("MGET", "k", "x")).ToString());
        Assert.InRange((await secondary.CallAsync("TTL", "k")).Integer, 99, 100);
        Assert.Equal(1, (await secondary.CallAsync("EXISTS", "k")).Integer);
        Assert.Equal(1, (await secondary.CallAsync("DBSIZE")).Integer);
        Assert.Single((await secondary.CallAsync("SCAN", "0", "COUNT", "1000")).Items![1].Items!);

        string[][] writes =
        [
            ["SET", "k", "w"], ["GETDEL", "k"], ["DEL", "k"], ["UNLINK", "k"], ["EXPIRE", "k", "5"], ["PEXPIRE", "k", "5"],
            ["PERSIST", "k"], ["MSET", "a", "b"], ["INCR", "n"], ["DECR", "n"], ["INCRBY", "n", "2"], ["DECRBY", "n", "2"], ["FLUSHDB"],
            ["APPEND", "k", "x"], ["SETRANGE", "k", "0", "x"], ["INCRBYFLOAT", "n", "0.5"],
        ];
        foreach (string[] write in writes)
        {
            Assert.Equal("-READONLY You can't write against a read only replica.", (await secondary.CallAsync(write)).ToString());
        }

        Assert.Equal("v", (await secondary.CallAsync("GET", "k")).String);
        Assert.Equal("v", (await primary.CallAsync("GET", "k")).String);
    }

    [Fact]
    public async Task RoleAndInfo_DescribeThePairOnBothNodes()
    {
        await using RespNodes nodes = await RespNodes.StartAsync(withSecondary: true);
        RespTestClient primary = await nodes.ConnectAsync();
        RespTestClient secondary = await nodes.ConnectAsync(nodes.Secondary!);
        await primary.CallAsync("SET", "k", "v");

        RespReply role = await primary.CallAsync("ROLE");
        Assert.Equal("master", role.Items![0].String);
        // ROLE and INFO name the other node's RESP port (where a redis client can reach it), as it told this one.
        Assert.Equal(nodes.Secondary!.RespEndPoint!.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), role.Items[2].Items![0].Items![1].String);
        RespReply replica = await secondary.CallAsync("ROLE");
        Assert.Equal("slave", replica.Items![0].String);
        Assert.Equal(nodes.Primary.RespEndPoint!.Port, replica.Items[2].Integer);
        Assert.Equal("connected", replica.Items[3].String);

        string info = (await primary.CallAsync("INFO", "replication")).String!;
        Assert.Contains("role:master\r\n", info, StringComparison.Ordinal);
        Assert.Contains("connected_slaves:1\r\n", info, StringComparison.Ordinal);
        Assert.Contains($"slave0:ip={nodes.Secondary.RespEndPoint!.Address},port={nodes.Secondary.RespEndPoint.Port},state=online", info, StringComparison.Ordinal);
        Assert.Contains("mirrorkv_protected:1\r\n", info, StringComparison.Ordinal);
        string replicaInfo = (await secondary.CallAsync("INFO", "replication")).String!;
        Assert.Contains("role:slave\r\n", replicaInfo, StringComparison.Ordinal);
        Assert.Contains("master_link_status:up\r\n", replicaInfo, StringComparison.Ordinal);
        Assert.Contains("mirrorkv_role:secondary\r\n", replicaInfo, StringComparison.Ordinal);
        Assert.Equal("replica", RespServerCommandTests.Pairs(await secondary.CallAsync("HELLO", "3"))["role"].String);
    }

    [Fact]
    public async Task RespWrites_CountAsTheNodesWrites()
    {
        await using RespNodes nodes = await RespNodes.StartAsync(withSecondary: true);
        RespTestClient client = await nodes.ConnectAsync();
        await client.CallAsync("MSET", "a", "1", "b", "2");
        await client.CallAsync("DEL", "a");
        Assert.Equal(2, Volatile.Read(ref nodes.Primary.Counters.Writes));
        Assert.Equal(1, Volatile.Read(ref nodes.Primary.Counters.Deletes));
        Assert.True(nodes.Primary.Store.TryLookup("b"u8, out RemotePointer pointer, out _));
        Assert.NotEqual(0UL, pointer.Address);
    }
}
