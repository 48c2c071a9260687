using System.Text;
using MirrorKv.Entries;

namespace MirrorKv.Adapter.Tests.Resp;

/// <summary>The string commands against a real node in this process, reply by reply as redis gives them.</summary>
public class RespStringCommandTests
{
    [Fact]
    public async Task GetSet_ReturnsTheOldValue_SetsTheNew_AndDropsTheTimeToLive()
    {
        await using RespNodes nodes = await RespNodes.StartAsync(withSecondary: true);
        RespTestClient client = await nodes.ConnectAsync();
        Assert.True((await client.CallAsync("GETSET", "k", "first")).IsNull);
        Assert.Equal("$first", (await client.CallAsync("GET", "k")).ToString());
        await client.CallAsync("EXPIRE", "k", "100");
        Assert.Equal("$first", (await client.CallAsync("getset", "k", "second")).ToString());
        Assert.Equal(-1, (await client.CallAsync("TTL", "k")).Integer);
        Assert.StartsWith("-ERR wrong number of arguments", (await client.CallAsync("GETSET", "k")).ToString(), StringComparison.Ordinal);

        // A write like any other: the secondary has it, and refuses one itself.
        RespTestClient onSecondary = await nodes.ConnectAsync(nodes.Secondary);
        Assert.Equal("$second", (await onSecondary.CallAsync("GET", "k")).ToString());
        Assert.StartsWith("-READONLY", (await onSecondary.CallAsync("GETSET", "k", "third")).ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Set_ThenGet_ReturnsTheValue_AndAMissingKeyIsNull()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        Assert.Equal("+OK", (await client.CallAsync("SET", "k", "v")).ToString());
        Assert.Equal("v", (await client.CallAsync("GET", "k")).String);
        RespReply missing = await client.CallAsync("get", "nope");
        Assert.Equal('$', missing.Type);
        Assert.True(missing.IsNull);
    }

    [Fact]
    public async Task GetEx_ReturnsTheValue_AndSetsOrRemovesItsDeadline()
    {
        await using RespNodes nodes = await RespNodes.StartAsync(withSecondary: true);
        RespTestClient client = await nodes.ConnectAsync();
        Assert.True((await client.CallAsync("GETEX", "missing", "EX", "10")).IsNull);
        await client.CallAsync("SET", "k", "v");
        Assert.Equal("v", (await client.CallAsync("GETEX", "k")).String);
        Assert.Equal(-1, (await client.CallAsync("TTL", "k")).Integer);
        Assert.Equal("v", (await client.CallAsync("getex", "k", "EX", "100")).String);
        Assert.InRange((await client.CallAsync("TTL", "k")).Integer, 99, 100);
        Assert.Equal("v", (await client.CallAsync("GETEX", "k", "PX", "50000")).String);
        Assert.InRange((await client.CallAsync("PTTL", "k")).Integer, 49_000, 50_000);
        long at = DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 200;
        Assert.Equal("v", (await client.CallAsync("GETEX", "k", "EXAT", $"{at}")).String);
        Assert.InRange((await client.CallAsync("TTL", "k")).Integer, 198, 200);
        Assert.Equal("v", (await client.CallAsync("GETEX", "k", "PERSIST")).String);
        Assert.Equal(-1, (await client.CallAsync("TTL", "k")).Integer);
        Assert.Equal("v", (await client.CallAsync("GETEX", "k", "PERSIST")).String);

        Assert.Equal("-ERR syntax error", (await client.CallAsync("GETEX", "k", "EX")).ToString());
        Assert.Equal("-ERR syntax error", (await client.CallAsync("GETEX", "k", "SOON", "1")).ToString());
        Assert.Equal("-ERR syntax error", (await client.CallAsync("GETEX", "k", "EX", "1", "PERSIST")).ToString());
        Assert.Equal("-ERR invalid expire time in 'getex' command", (await client.CallAsync("GETEX", "k", "EX", "0")).ToString());
        Assert.Equal("-ERR value is not an integer or out of range", (await client.CallAsync("GETEX", "k", "PX", "later")).ToString());

        // A deadline already past: the value is returned and the key is gone, on the secondary too.
        Assert.Equal("v", (await client.CallAsync("GETEX", "k", "PXAT", "1")).String);
        Assert.Equal(0, (await client.CallAsync("EXISTS", "k")).Integer);
        await Waits.UntilAsync(() => !nodes.Secondary!.Store.TryLookup("k"u8, out _, out _), "the delete to reach the secondary");
    }

    [Fact]
    public async Task Set_BinaryValue_RoundTripsByteForByte()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        byte[] value = [0, 13, 10, 255, (byte)'$', (byte)'*', 0, 1, 2];
        Assert.Equal("+OK", (await client.CallAsync("SET", "bin", value)).ToString());
        Assert.Equal(value, (await client.CallAsync("GET", "bin")).Bytes);
    }

    [Fact]
    public async Task Set_ValueThatLooksLikeTheExpiryPrefix_ComesBackUnchanged_WithNoTtl()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        byte[] lookalike = new byte[24];
        ValueExpiry.Write(lookalike, 1);
        Assert.Equal("+OK", (await client.CallAsync("SET", "tricky", lookalike)).ToString());
        Assert.Equal(lookalike, (await client.CallAsync("GET", "tricky")).Bytes);
        Assert.Equal(-1, (await client.CallAsync("TTL", "tricky")).Integer);
        Assert.Equal(24, (await client.CallAsync("STRLEN", "tricky")).Integer);
    }

    [Fact]
    public async Task Set_NxAndXx_WriteOnlyWhenTheirConditionHolds()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        Assert.True((await client.CallAsync("SET", "k", "1", "XX")).IsNull);
        Assert.True((await client.CallAsync("EXISTS", "k")).Integer == 0);
        Assert.Equal("+OK", (await client.CallAsync("SET", "k", "1", "NX")).ToString());
        Assert.True((await client.CallAsync("SET", "k", "2", "NX")).IsNull);
        Assert.Equal("+OK", (await client.CallAsync("SET", "k", "3", "XX")).ToString());
        Assert.Equal("3", (await client.CallAsync("GET", "k")).String);
        Assert.Equal("-ERR syntax error", (await client.CallAsync("SET", "k", "4", "NX", "XX")).ToString());
    }

    [Fact]
    public async Task Set_Get_RepliesWithTheOldValue()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        Assert.True((await client.CallAsync("SET", "k", "first", "GET")).IsNull);
        Assert.Equal("first", (await client.CallAsync("SET", "k", "second", "GET")).String);
        Assert.Equal("second", (await client.CallAsync("SET", "k", "third", "NX", "GET")).String);
        Assert.Equal("second", (await client.CallAsync("GET", "k")).String);
    }

    [Fact]
    public async Task Set_WithExpiry_GivesTtl_AndTheKeyVanishesWhenItPasses()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        Assert.Equal("+OK", (await client.CallAsync("SET", "ex", "v", "EX", "100")).ToString());
        Assert.InRange((await client.CallAsync("TTL", "ex")).Integer, 99, 100);
        Assert.InRange((await client.CallAsync("PTTL", "ex")).Integer, 98_000, 100_000);
        Assert.Equal("v", (await client.CallAsync("GET", "ex")).String);

        long at = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 100_000;
        Assert.Equal("+OK", (await client.CallAsync("SET", "pxat", "v", "PXAT", at)).ToString());
        Assert.InRange((await client.CallAsync("PTTL", "pxat")).Integer, 90_000, 100_000);

        Assert.Equal("+OK", (await client.CallAsync("SET", "px", "v", "PX", "50")).ToString());
        await Task.Delay(120);
        Assert.True((await client.CallAsync("GET", "px")).IsNull);
        Assert.Equal(-2, (await client.CallAsync("TTL", "px")).Integer);
        Assert.Equal(0, (await client.CallAsync("EXISTS", "px")).Integer);
        Assert.Equal("+OK", (await client.CallAsync("SET", "px", "again", "NX")).ToString());
    }

    [Fact]
    public async Task Set_KeepTtl_KeepsTheDeadline_AndPlainSetClearsIt()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        await client.CallAsync("SET", "k", "v", "EX", "100");
        Assert.Equal("+OK", (await client.CallAsync("SET", "k", "w", "KEEPTTL")).ToString());
        Assert.InRange((await client.CallAsync("TTL", "k")).Integer, 99, 100);
        Assert.Equal("w", (await client.CallAsync("GET", "k")).String);
        Assert.Equal("+OK", (await client.CallAsync("SET", "k", "x")).ToString());
        Assert.Equal(-1, (await client.CallAsync("TTL", "k")).Integer);
    }

    [Theory]
    [InlineData("EX", "0", "ERR invalid expire time in 'set' command")]
    [InlineData("PX", "-5", "ERR invalid expire time in 'set' command")]
    [InlineData("EX", "ten", "ERR value is not an integer or out of range")]
    [InlineData("EX", "99999999999999999", "ERR invalid expire time in 'set' command")]
    public async Task Set_BadExpiry_IsRefused(string unit, string amount, string error)
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        Assert.Equal($"-{error}", (await client.CallAsync("SET", "k", "v", unit, amount)).ToString());
        Assert.Equal("-ERR syntax error", (await client.CallAsync("SET", "k", "v", "EX")).ToString());
        Assert.Equal("-ERR syntax error", (await client.CallAsync("SET", "k", "v", "EX", "1", "KEEPTTL")).ToString());
        Assert.Equal(0, (await client.CallAsync("EXISTS", "k")).Integer);
    }

    [Fact]
    public async Task SetExPSetExSetNx_AreSetWithTheirOptions()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        Assert.Equal("+OK", (await client.CallAsync("SETEX", "a", "100", "v")).ToString());
        Assert.InRange((await client.CallAsync("TTL", "a")).Integer, 99, 100);
        Assert.Equal("+OK", (await client.CallAsync("PSETEX", "b", "100000", "v")).ToString());
        Assert.InRange((await client.CallAsync("PTTL", "b")).Integer, 99_000, 100_000);
        Assert.Equal("-ERR invalid expire time in 'setex' command", (await client.CallAsync("SETEX", "c", "0", "v")).ToString());
        Assert.Equal(1, (await client.CallAsync("SETNX", "d", "first")).Integer);
        Assert.Equal(0, (await client.CallAsync("SETNX", "d", "second")).Integer);
        Assert.Equal("first", (await client.CallAsync("GET", "d")).String);
    }

    [Fact]
    public async Task GetDel_ReturnsTheValueAndDeletesTheKey()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        await client.CallAsync("SET", "k", "v");
        Assert.Equal("v", (await client.CallAsync("GETDEL", "k")).String);
        Assert.True((await client.CallAsync("GETDEL", "k")).IsNull);
        Assert.True((await client.CallAsync("GET", "k")).IsNull);
    }

    [Fact]
    public async Task MSet_ThenMGet_InOrder_WithNullForMissingKeys()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        Assert.Equal("+OK", (await client.CallAsync("MSET", "a", "1", "b", "2", "c", "3")).ToString());
        Assert.Equal("*[$1, (nil), $2, $3]", (await client.CallAsync("MGET", "a", "zz", "b", "c")).ToString());
        Assert.Equal("-ERR wrong number of arguments for 'mset' command", (await client.CallAsync("MSET", "a", "1", "b")).ToString());
    }

    [Fact]
    public async Task IncrFamily_CountFromZero_KeepTheTtl_AndRefuseWhatIsNoInteger()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        Assert.Equal(1, (await client.CallAsync("INCR", "n")).Integer);
        Assert.Equal(11, (await client.CallAsync("INCRBY", "n", "10")).Integer);
        Assert.Equal(10, (await client.CallAsync("DECR", "n")).Integer);
        Assert.Equal(-5, (await client.CallAsync("DECRBY", "n", "15")).Integer);
        Assert.Equal("-5", (await client.CallAsync("GET", "n")).String);

        await client.CallAsync("SET", "t", "41", "EX", "100");
        Assert.Equal(42, (await client.CallAsync("INCR", "t")).Integer);
        Assert.InRange((await client.CallAsync("TTL", "t")).Integer, 99, 100);

        await client.CallAsync("SET", "s", "abc");
        Assert.Equal("-ERR value is not an integer or out of range", (await client.CallAsync("INCR", "s")).ToString());
        await client.CallAsync("SET", "z", "007");
        Assert.Equal("-ERR value is not an integer or out of range", (await client.CallAsync("INCR", "z")).ToString());
        Assert.Equal("-ERR value is not an integer or out of range", (await client.CallAsync("INCRBY", "n", "1.5")).ToString());
        await client.CallAsync("SET", "max", long.MaxValue);
        Assert.Equal("-ERR increment or decrement would overflow", (await client.CallAsync("INCR", "max")).ToString());
        Assert.Equal(long.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture), (await client.CallAsync("GET", "max")).String);
    }

    [Fact]
    public async Task StrLen_CountsTheClientsBytes()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        await client.CallAsync("SET", "k", "hello", "EX", "100");
        Assert.Equal(5, (await client.CallAsync("STRLEN", "k")).Integer);
        Assert.Equal(0, (await client.CallAsync("STRLEN", "missing")).Integer);
    }

    [Fact]
    public async Task Set_ValueOverTheLimit_IsAProtocolErrorThatClosesTheConnection_ButNotTheNode()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        int max = nodes.Primary.Store.Options.EffectiveMaxValueLength;
        RespReply reply = await client.CallAsync("SET", "big", new byte[max + 1]);
        Assert.StartsWith("ERR Protocol error: bulk length", reply.Text, StringComparison.Ordinal);
        Assert.True(await client.WaitClosedAsync());

        // The largest value is taken; with an expiry (16 more bytes) it no longer fits the store.
        RespTestClient other = await nodes.ConnectAsync();
        Assert.Equal("+OK", (await other.CallAsync("SET", "big", new byte[max])).ToString());
        Assert.StartsWith("-ERR value of", (await other.CallAsync("SET", "big", new byte[max], "EX", "10")).ToString(), StringComparison.Ordinal);
        Assert.Equal(max, (await other.CallAsync("STRLEN", "big")).Integer);
        Assert.Equal(Encoding.ASCII.GetString(new byte[10]), (await other.CallAsync("GET", "big")).String![..10]);
    }
}
