using System.Text;

namespace MirrorKv.Adapter.Tests.Resp;

/// <summary>The key commands against a real node in this process: DEL, EXISTS, EXPIRE, TTL, PERSIST, TYPE, DBSIZE, SCAN, FLUSHDB.</summary>
public class RespKeyCommandTests
{
    [Fact]
    public async Task DelAndUnlink_CountTheKeysThatExisted()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        await client.CallAsync("MSET", "a", "1", "b", "2", "c", "3");
        Assert.Equal(2, (await client.CallAsync("DEL", "a", "b", "zz")).Integer);
        Assert.Equal(1, (await client.CallAsync("UNLINK", "c", "a")).Integer);
        Assert.Equal(0, (await client.CallAsync("DBSIZE")).Integer);
    }

    [Fact]
    public async Task Exists_CountsEachNamedKey_RepeatsIncluded()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        await client.CallAsync("SET", "a", "1");
        Assert.Equal(3, (await client.CallAsync("EXISTS", "a", "a", "nope", "a")).Integer);
    }

    [Fact]
    public async Task Expire_SetsTheDeadline_WithItsConditions_AndAPastOneDeletes()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        Assert.Equal(0, (await client.CallAsync("EXPIRE", "missing", "10")).Integer);
        await client.CallAsync("SET", "k", "v");
        Assert.Equal(0, (await client.CallAsync("EXPIRE", "k", "100", "XX")).Integer);
        Assert.Equal(0, (await client.CallAsync("EXPIRE", "k", "100", "GT")).Integer);
        Assert.Equal(1, (await client.CallAsync("EXPIRE", "k", "100", "NX")).Integer);
        Assert.InRange((await client.CallAsync("TTL", "k")).Integer, 99, 100);
        Assert.Equal(0, (await client.CallAsync("EXPIRE", "k", "50", "GT")).Integer);
        Assert.Equal(1, (await client.CallAsync("EXPIRE", "k", "50", "LT")).Integer);
        Assert.InRange((await client.CallAsync("TTL", "k")).Integer, 49, 50);
        Assert.Equal(1, (await client.CallAsync("PEXPIRE", "k", "200000", "XX")).Integer);
        Assert.InRange((await client.CallAsync("PTTL", "k")).Integer, 199_000, 200_000);
        Assert.Equal("v", (await client.CallAsync("GET", "k")).String);
        Assert.Equal("-ERR NX and XX, GT or LT options at the same time are not compatible", (await client.CallAsync("EXPIRE", "k", "1", "NX", "GT")).ToString());
        Assert.Equal("-ERR GT and LT options at the same time are not compatible", (await client.CallAsync("EXPIRE", "k", "1", "GT", "LT")).ToString());
        Assert.Equal("-ERR value is not an integer or out of range", (await client.CallAsync("EXPIRE", "k", "soon")).ToString());

        Assert.Equal(1, (await client.CallAsync("EXPIRE", "k", "-1")).Integer);
        Assert.Equal(0, (await client.CallAsync("EXISTS", "k")).Integer);
        Assert.Equal(0, (await client.CallAsync("DBSIZE")).Integer);
    }

    [Fact]
    public async Task ExpireAt_SetsAnAbsoluteDeadline_WithItsConditions_AndAPastOneDeletes()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Assert.Equal(0, (await client.CallAsync("EXPIREAT", "missing", $"{now + 10}")).Integer);
        await client.CallAsync("SET", "k", "v");
        Assert.Equal(0, (await client.CallAsync("EXPIREAT", "k", $"{now + 100}", "XX")).Integer);
        Assert.Equal(1, (await client.CallAsync("expireat", "k", $"{now + 100}", "NX")).Integer);
        Assert.InRange((await client.CallAsync("TTL", "k")).Integer, 98, 100);
        Assert.Equal(0, (await client.CallAsync("PEXPIREAT", "k", $"{(now + 50) * 1000}", "GT")).Integer);
        Assert.Equal(1, (await client.CallAsync("pexpireat", "k", $"{(now + 50) * 1000}", "LT")).Integer);
        Assert.InRange((await client.CallAsync("PTTL", "k")).Integer, 48_000, 50_000);
        Assert.Equal("-ERR value is not an integer or out of range", (await client.CallAsync("EXPIREAT", "k", "tomorrow")).ToString());
        Assert.Equal("-ERR wrong number of arguments for 'pexpireat' command", (await client.CallAsync("PEXPIREAT", "k")).ToString());

        Assert.Equal(1, (await client.CallAsync("EXPIREAT", "k", $"{now - 1}")).Integer);
        Assert.Equal(0, (await client.CallAsync("EXISTS", "k")).Integer);
    }

    [Fact]
    public async Task Persist_RemovesTheDeadlineOnly()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        await client.CallAsync("SET", "k", "v", "EX", "100");
        await client.CallAsync("SET", "plain", "v");
        Assert.Equal(1, (await client.CallAsync("PERSIST", "k")).Integer);
        Assert.Equal(0, (await client.CallAsync("PERSIST", "k")).Integer);
        Assert.Equal(0, (await client.CallAsync("PERSIST", "plain")).Integer);
        Assert.Equal(0, (await client.CallAsync("PERSIST", "missing")).Integer);
        Assert.Equal(-1, (await client.CallAsync("TTL", "k")).Integer);
        Assert.Equal("v", (await client.CallAsync("GET", "k")).String);
    }

    [Fact]
    public async Task Ttl_MissingIsMinusTwo_NoDeadlineIsMinusOne()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        await client.CallAsync("SET", "k", "v");
        Assert.Equal(-2, (await client.CallAsync("TTL", "missing")).Integer);
        Assert.Equal(-2, (await client.CallAsync("PTTL", "missing")).Integer);
        Assert.Equal(-1, (await client.CallAsync("TTL", "k")).Integer);
        Assert.Equal("+string", (await client.CallAsync("TYPE", "k")).ToString());
        Assert.Equal("+none", (await client.CallAsync("TYPE", "missing")).ToString());
    }

    [Fact]
    public async Task Scan_ReturnsEveryKeyOnce_UntilTheCursorComesBackToZero()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        var expected = new HashSet<string>();
        for (int i = 0; i < 600; i++)
        {
            // Several sizes, so that the keys live in several slabs of different slot sizes.
            string key = $"key:{i}";
            expected.Add(key);
            await client.CallAsync("SET", key, new string('v', 1 + (i * 37 % 3000)));
        }

        await client.CallAsync("SET", "gone", "v", "PX", "1");
        await Task.Delay(20);
        var seen = new List<string>();
        string cursor = "0";
        int calls = 0;
        do
        {
            RespReply reply = await client.CallAsync("SCAN", cursor, "COUNT", "50");
            cursor = reply.Items![0].String!;
            seen.AddRange(reply.Items[1].Items!.Select(k => k.String!));
            Assert.True(++calls < 10_000, "the scan does not end");
        }
        while (cursor != "0");

        Assert.Equal(expected.Count, seen.Count);
        Assert.Equal(expected, seen.ToHashSet());
        // DBSIZE counts an expired key until the primary's reaper has reclaimed it, as redis's does.
        Assert.InRange((await client.CallAsync("DBSIZE")).Integer, 600, 601);
    }

    [Fact]
    public async Task Scan_Match_AndType_FilterTheKeys()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        await client.CallAsync("MSET", "user:1", "a", "user:2", "b", "order:1", "c");
        Assert.Equal(["user:1", "user:2"], (await ScanAllAsync(client, "MATCH", "user:*")).Order(StringComparer.Ordinal));
        Assert.Equal(["order:1"], await ScanAllAsync(client, "MATCH", "*der*", "TYPE", "string"));
        Assert.Empty(await ScanAllAsync(client, "TYPE", "hash"));
        Assert.Equal("-ERR invalid cursor", (await client.CallAsync("SCAN", "abc")).ToString());
        Assert.Equal("-ERR syntax error", (await client.CallAsync("SCAN", "0", "COUNT", "0")).ToString());
        Assert.Equal("-ERR syntax error", (await client.CallAsync("SCAN", "0", "MATCH")).ToString());
    }

    [Fact]
    public async Task Scan_AnyCursor_IsAnsweredWithoutHarm()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        await client.CallAsync("SET", "k", "v");
        foreach (string cursor in new[] { "1", "17", "65535", "99999999999", "18446744073709551615" })
        {
            RespReply reply = await client.CallAsync("SCAN", cursor);
            Assert.Equal('*', reply.Type);
        }
    }

    [Fact]
    public async Task FlushDb_DeletesEveryKey()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        for (int i = 0; i < 300; i++)
        {
            await client.CallAsync("SET", $"k{i}", new string('x', i * 11));
        }

        Assert.Equal("+OK", (await client.CallAsync("FLUSHDB")).ToString());
        Assert.Equal(0, (await client.CallAsync("DBSIZE")).Integer);
        Assert.True((await client.CallAsync("GET", "k7")).IsNull);
        Assert.Equal("+OK", (await client.CallAsync("FLUSHDB", "ASYNC")).ToString());
        Assert.Equal("-ERR syntax error", (await client.CallAsync("FLUSHDB", "LATER")).ToString());

        // FLUSHALL, which redis users type as often: the same, database 0 being the only one.
        await client.CallAsync("SET", "again", "v");
        Assert.Equal("+OK", (await client.CallAsync("FLUSHALL")).ToString());
        Assert.Equal(0, (await client.CallAsync("DBSIZE")).Integer);
        Assert.Equal("+OK", (await client.CallAsync("flushall", "SYNC")).ToString());
    }

    [Fact]
    public async Task Keys_ReturnsEveryLiveMatchingKey_OnBothNodes()
    {
        await using RespNodes nodes = await RespNodes.StartAsync(withSecondary: true);
        RespTestClient client = await nodes.ConnectAsync();
        await client.CallAsync("MSET", "user:1", "a", "user:2", "b", "order:1", "c");
        await client.CallAsync("SET", "user:gone", "v", "PX", "1");
        await Task.Delay(20);
        Assert.Equal(["order:1", "user:1", "user:2"], (await client.CallAsync("KEYS", "*")).Items!.Select(k => k.String!).Order(StringComparer.Ordinal));
        Assert.Equal(["user:1", "user:2"], (await client.CallAsync("KEYS", "user:?")).Items!.Select(k => k.String!).Order(StringComparer.Ordinal));
        Assert.Empty((await client.CallAsync("KEYS", "nothing*")).Items!);
        Assert.StartsWith("-ERR wrong number of arguments", (await client.CallAsync("KEYS")).ToString(), StringComparison.Ordinal);

        // A read: the secondary answers it too, with what it holds.
        RespTestClient onSecondary = await nodes.ConnectAsync(nodes.Secondary);
        Assert.Equal(["order:1"], (await onSecondary.CallAsync("KEYS", "order:*")).Items!.Select(k => k.String!));
    }

    [Fact]
    public async Task Keys_OverAStoreLargerThanOneTurn_FindsEveryKeyOnce_AndTheConnectionGoesOn()
    {
        // 200,000 keys take the walk past one 10 ms turn on these machines: the keys found before a turn ends must
        // be kept, and the ones after it added, none twice.
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        const int Count = 200_000;
        for (int batch = 0; batch < Count / 1000; batch++)
        {
            var arguments = new List<object> { "MSET" };
            for (int i = batch * 1000; i < (batch + 1) * 1000; i++)
            {
                arguments.Add($"k{i}");
                arguments.Add("v");
            }

            Assert.Equal("+OK", (await client.CallAsync([.. arguments])).ToString());
        }

        RespReply keys = await client.CallAsync("KEYS", "k*");
        Assert.Equal(Count, keys.Items!.Count);
        Assert.Equal(Count, keys.Items.Select(k => k.String!).ToHashSet().Count);
        Assert.Equal(1, (await client.CallAsync("EXISTS", "k199999")).Integer);
        Assert.Equal("+PONG", (await client.CallAsync("PING")).ToString());
    }

    private static async Task<List<string>> ScanAllAsync(RespTestClient client, params string[] options)
    {
        var keys = new List<string>();
        string cursor = "0";
        do
        {
            RespReply reply = await client.CallAsync(["SCAN", cursor, .. options]);
            cursor = reply.Items![0].String!;
            keys.AddRange(reply.Items[1].Items!.Select(k => k.String!));
        }
        while (cursor != "0");
        return keys;
    }
}
