using System.Globalization;
using System.Text;
using CsCheck;
using MirrorKv.Adapter.Resp;

namespace MirrorKv.Adapter.Tests.Resp;

/// <summary>APPEND, SETRANGE, GETRANGE, INCRBYFLOAT, TOUCH and TIME: redis's replies, and their writes on the secondary.</summary>
public class RespRangeCommandTests
{
    [Fact]
    public async Task Append_CreatesOrExtendsTheValue_KeepsItsTtl_AndTheSecondaryHasIt()
    {
        await using RespNodes nodes = await RespNodes.StartAsync(withSecondary: true);
        RespTestClient client = await nodes.ConnectAsync();
        Assert.Equal(5, (await client.CallAsync("APPEND", "k", "hello")).Integer);
        Assert.Equal(11, (await client.CallAsync("append", "k", " world")).Integer);
        Assert.Equal("hello world", (await client.CallAsync("GET", "k")).String);
        Assert.Equal(11, (await client.CallAsync("APPEND", "k", "")).Integer);

        await client.CallAsync("SET", "t", "a", "EX", "100");
        Assert.Equal(2, (await client.CallAsync("APPEND", "t", "b")).Integer);
        Assert.InRange((await client.CallAsync("TTL", "t")).Integer, 99, 100);

        RespTestClient secondary = await nodes.ConnectAsync(nodes.Secondary!);
        Assert.Equal("hello world", (await secondary.CallAsync("GET", "k")).String);
        Assert.Equal("ab", (await secondary.CallAsync("GET", "t")).String);
        Assert.Equal("-READONLY You can't write against a read only replica.", (await secondary.CallAsync("APPEND", "k", "!")).ToString());
    }

    [Fact]
    public async Task SetRange_OverwritesAndZeroFills_AndGetRangeReadsAsRedis()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        await client.CallAsync("SET", "k", "Hello World");
        Assert.Equal(11, (await client.CallAsync("SETRANGE", "k", "6", "Redis")).Integer);
        Assert.Equal("Hello Redis", (await client.CallAsync("GET", "k")).String);
        Assert.Equal(8, (await client.CallAsync("SETRANGE", "gap", "5", "abc")).Integer);
        Assert.Equal(new byte[] { 0, 0, 0, 0, 0, (byte)'a', (byte)'b', (byte)'c' }, (await client.CallAsync("GET", "gap")).Bytes);

        // An empty write changes nothing and creates no key.
        Assert.Equal(0, (await client.CallAsync("SETRANGE", "none", "3", "")).Integer);
        Assert.Equal(0, (await client.CallAsync("EXISTS", "none")).Integer);

        Assert.Equal("Hello", (await client.CallAsync("GETRANGE", "k", "0", "4")).String);
        Assert.Equal("Redis", (await client.CallAsync("GETRANGE", "k", "-5", "-1")).String);
        Assert.Equal("Hello Redis", (await client.CallAsync("GETRANGE", "k", "0", "100")).String);
        Assert.Equal("", (await client.CallAsync("GETRANGE", "k", "5", "2")).String);
        Assert.Equal("", (await client.CallAsync("GETRANGE", "missing", "0", "-1")).String);
        Assert.Equal("Hel", (await client.CallAsync("SUBSTR", "k", "0", "2")).String);

        Assert.Equal("-ERR offset is out of range", (await client.CallAsync("SETRANGE", "k", "-1", "x")).ToString());
        Assert.Equal("-ERR value is not an integer or out of range", (await client.CallAsync("GETRANGE", "k", "a", "1")).ToString());
        int max = nodes.Primary.Store.Options.EffectiveMaxValueLength;
        string tooFar = (await client.CallAsync("SETRANGE", "k", $"{max}", "x")).ToString();
        Assert.StartsWith("-ERR string exceeds maximum allowed size", tooFar, StringComparison.Ordinal);
        Assert.Equal("Hello Redis", (await client.CallAsync("GET", "k")).String);
    }

    [Fact]
    public void GetRange_Slice_MatchesRedisRules_ForAnyIndices()
    {
        // redis's getrangeCommand, restated over indices: negative ones count from the end, both clamp into the value.
        static string Model(string value, long start, long end)
        {
            long n = value.Length;
            if (start < 0 && end < 0 && start > end)
            {
                return "";
            }

            if (start < 0) { start = n + start; }
            if (end < 0) { end = n + end; }
            if (start < 0) { start = 0; }
            if (end < 0) { end = 0; }
            if (end >= n) { end = n - 1; }
            return start > end || n == 0 ? "" : value.Substring((int)start, (int)(end - start + 1));
        }

        Gen.Select(Gen.String[Gen.Char.AlphaNumeric, 0, 20], Gen.Long[-30, 30], Gen.Long[-30, 30]).Sample((value, start, end) =>
            Encoding.ASCII.GetString(RangeVisitor.Slice(Encoding.ASCII.GetBytes(value), start, end)) == Model(value, start, end));
    }

    [Fact]
    public async Task IncrByFloat_AddsDecimals_KeepsTheTtl_AndRefusesWhatIsNoNumber()
    {
        await using RespNodes nodes = await RespNodes.StartAsync(withSecondary: true);
        RespTestClient client = await nodes.ConnectAsync();
        await client.CallAsync("SET", "f", "10.50", "EX", "100");
        Assert.Equal("10.6", (await client.CallAsync("INCRBYFLOAT", "f", "0.1")).String);
        Assert.Equal("5010.6", (await client.CallAsync("incrbyfloat", "f", "5.0e3")).String);
        Assert.InRange((await client.CallAsync("TTL", "f")).Integer, 99, 100);
        Assert.Equal("3", (await client.CallAsync("INCRBYFLOAT", "new", "3.0")).String);
        Assert.Equal("-1.5", (await client.CallAsync("INCRBYFLOAT", "new", "-4.5")).String);

        await client.CallAsync("SET", "s", "abc");
        Assert.Equal("-ERR value is not a valid float", (await client.CallAsync("INCRBYFLOAT", "s", "1")).ToString());
        Assert.Equal("-ERR value is not a valid float", (await client.CallAsync("INCRBYFLOAT", "f", "inf")).ToString());
        Assert.Equal("-ERR value is not a valid float", (await client.CallAsync("INCRBYFLOAT", "f", " 1")).ToString());
        // An empty value is a value, not an absent key: no number (as redis).
        await client.CallAsync("SET", "empty", "");
        Assert.Equal("-ERR value is not a valid float", (await client.CallAsync("INCRBYFLOAT", "empty", "1")).ToString());
        Assert.Equal("-ERR value is not an integer or out of range", (await client.CallAsync("INCR", "empty")).ToString());
        await client.CallAsync("SET", "huge", "1.7e308");
        Assert.Equal("-ERR increment would produce NaN or Infinity", (await client.CallAsync("INCRBYFLOAT", "huge", "1.7e308")).ToString());
        Assert.Equal("1.7e308", (await client.CallAsync("GET", "huge")).String);

        RespTestClient secondary = await nodes.ConnectAsync(nodes.Secondary!);
        Assert.Equal("5010.6", (await secondary.CallAsync("GET", "f")).String);
        Assert.Equal("-READONLY You can't write against a read only replica.", (await secondary.CallAsync("INCRBYFLOAT", "f", "1")).ToString());
    }

    [Fact]
    public void FormatFloat_IsTheShortestExactDecimal_WithoutAnExponent()
    {
        Assert.Equal("100000000000000000000", RespNumbers.FormatFloat(1e20));
        Assert.Equal("0.00001", RespNumbers.FormatFloat(1e-5));
        Assert.Equal("-0.000000125", RespNumbers.FormatFloat(-1.25e-7));
        Assert.Equal("0", RespNumbers.FormatFloat(-0.0));
        Gen.Double.Where(double.IsFinite).Sample(value =>
        {
            string text = RespNumbers.FormatFloat(value);
            return !text.Contains('E', StringComparison.Ordinal)
                && RespNumbers.TryParseFloat(Encoding.ASCII.GetBytes(text), out double back)
                && back == value;
        });
    }

    [Fact]
    public async Task Touch_CountsTheKeysThatExist_AndTimeIsTheNodesClock()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        await client.CallAsync("MSET", "a", "1", "b", "2");
        Assert.Equal(2, (await client.CallAsync("TOUCH", "a", "b", "c")).Integer);

        long before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        RespReply time = await client.CallAsync("TIME");
        long after = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Assert.Equal(2, time.Items!.Count);
        Assert.InRange(long.Parse(time.Items[0].String!, CultureInfo.InvariantCulture), before, after);
        Assert.InRange(long.Parse(time.Items[1].String!, CultureInfo.InvariantCulture), 0, 999_999);
    }
}
