using System.Text;
using CsCheck;
using MirrorKv.Adapter.Resp;

namespace MirrorKv.Adapter.Tests.Resp;

/// <summary>
/// The RESP request parser: what clients send comes back argument for argument; any prefix of a request is
/// incomplete; and whatever bytes arrive (random, garbled, truncated, hostile lengths), it answers complete,
/// incomplete or a protocol error within its limits, never an exception, and never looks past a request's end.
/// </summary>
public class RespParserTests
{
    private static readonly RespLimits Limits = new(MaxRequestBytes: 64 * 1024, MaxBulkLength: 4096, MaxArguments: 64, MaxInlineLength: 1024);

    private static readonly Gen<byte[][]> Arguments = Gen.Byte.Array[0, 40].Array[1, 12];

    [Fact]
    public void EncodedArguments_ParseBackExactly_AndEveryPrefixIsIncomplete()
    {
        Arguments.Sample(arguments =>
        {
            byte[] request = RespTestClient.Encode(arguments.Cast<object>().ToArray());
            int[] table = new int[4];
            Assert.Equal(RespParseStatus.Complete, Parse(request, ref table, out int count, out int consumed, out _, out _));
            Assert.Equal(request.Length, consumed);
            var parsed = new RespRequest(request, table, count);
            Assert.Equal(arguments.Length, parsed.Count);
            for (int i = 0; i < count; i++)
            {
                Assert.Equal(arguments[i], parsed[i].ToArray());
            }

            for (int cut = 0; cut < request.Length; cut++)
            {
                RespParseStatus status = Parse(request.AsSpan(0, cut), ref table, out _, out _, out int needed, out string? error);
                Assert.True(status == RespParseStatus.Incomplete, $"prefix of {cut} bytes: {status} {error}");
                Assert.True(needed == 0 || (needed > cut && needed <= request.Length), $"prefix of {cut} bytes asks for {needed} of {request.Length}");
            }
        }, iter: 2_000);
    }

    [Fact]
    public void TwoPipelinedRequests_TheFirstIsParsedWithoutLookingAtTheSecond()
    {
        Gen.Select(Arguments, Gen.Byte.Array[0, 64]).Sample((arguments, after) =>
        {
            byte[] request = RespTestClient.Encode(arguments.Cast<object>().ToArray());
            byte[] both = [.. request, .. after];
            int[] table = new int[4];
            Assert.Equal(RespParseStatus.Complete, Parse(both, ref table, out int count, out int consumed, out _, out _));
            Assert.Equal((arguments.Length, request.Length), (count, consumed));
        }, iter: 2_000);
    }

    [Fact]
    public void RandomBytes_NeverThrow_AndStayWithinTheBuffer()
    {
        Gen.Byte.Array[0, 300].Sample(CheckAnyInput, iter: 50_000);
    }

    [Fact]
    public void GarbledRequests_NeverThrow_AndStayWithinTheBuffer()
    {
        // Valid requests with a few bytes replaced, inserted or removed: the inputs that reach deep into the parser.
        Gen<byte[]> garbled = Gen.Select(Arguments, Gen.Int[0, 1_000_000].Array[1, 4], Gen.Byte.Array[1, 4]).Select((arguments, positions, bytes) =>
        {
            var request = new List<byte>(RespTestClient.Encode(arguments.Cast<object>().ToArray()));
            for (int i = 0; i < positions.Length; i++)
            {
                int at = positions[i] % (request.Count + 1);
                switch (positions[i] % 3)
                {
                    case 0 when at < request.Count:
                        request[at] = bytes[i % bytes.Length];
                        break;
                    case 1:
                        request.Insert(at, bytes[i % bytes.Length]);
                        break;
                    default:
                        if (at < request.Count)
                        {
                            request.RemoveAt(at);
                        }

                        break;
                }
            }

            return request.ToArray();
        });
        garbled.Sample(CheckAnyInput, iter: 50_000);
    }

    [Theory]
    [InlineData("$3\r\nGET\r\n", "expected '*'")]
    [InlineData("\0\0\0\0", "byte 0x00")]
    [InlineData(":1\r\n", "expected '*'")]
    [InlineData("*1\r\n:5\r\n", "expected '$'")]
    [InlineData("*1\r\n*1\r\n$1\r\na\r\n", "expected '$'")]
    [InlineData("*abc\r\n", "invalid array length")]
    [InlineData("*+1\r\n$1\r\na\r\n", "invalid array length")]
    [InlineData("*1\r\n$-1\r\n", "invalid bulk length")]
    [InlineData("*1\r\n$1x\r\na\r\n", "invalid bulk length")]
    [InlineData("*1\r\n$99999999999999999999999\r\n", "invalid bulk length")]
    [InlineData("*1\r\n$4097\r\n", "exceeds the largest value")]
    [InlineData("*65\r\n", "too many arguments")]
    [InlineData("*2147483648\r\n", "too many arguments")]
    [InlineData("*1\r\n$1\r\nab\r\n", "not followed by CRLF")]
    [InlineData("*1\n$1\r\na\r\n", "invalid array length")]
    public void MalformedRequest_IsAProtocolError(string input, string reason)
    {
        int[] table = new int[4];
        Assert.Equal(RespParseStatus.Error, Parse(Encoding.ASCII.GetBytes(input), ref table, out _, out _, out _, out string? error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void LengthLineThatNeverEnds_IsAnErrorOnceLongerThanAnyValidOne()
    {
        int[] table = new int[4];
        Assert.Equal(RespParseStatus.Incomplete, Parse("*1\r\n$123456"u8, ref table, out _, out _, out _, out _));
        Assert.Equal(RespParseStatus.Error, Parse(Encoding.ASCII.GetBytes("*1\r\n$" + new string('1', 40)), ref table, out _, out _, out _, out _));
        Assert.Equal(RespParseStatus.Error, Parse(Encoding.ASCII.GetBytes("*" + new string('1', 40)), ref table, out _, out _, out _, out _));
    }

    [Fact]
    public void RequestLargerThanTheLimit_IsAnErrorBeforeItIsBuffered()
    {
        // Each bulk is allowed; together they pass MaxRequestBytes, which the parser sees from the lengths alone.
        var request = new StringBuilder("*20\r\n");
        for (int i = 0; i < 4; i++)
        {
            request.Append("$4096\r\n").Append(new string('x', 4096)).Append("\r\n");
        }

        request.Append("$4096\r\n");
        int[] table = new int[4];
        RespParseStatus status = Parse(Encoding.ASCII.GetBytes(request.ToString()), ref table, out _, out _, out int needed, out _);
        Assert.Equal(RespParseStatus.Incomplete, status);
        Assert.True(needed <= Limits.MaxRequestBytes);
        for (int i = 0; i < 12; i++)
        {
            request.Append(new string('x', 4096)).Append("\r\n$4096\r\n");
        }

        Assert.Equal(RespParseStatus.Error, Parse(Encoding.ASCII.GetBytes(request.ToString()), ref table, out _, out _, out _, out string? error));
        Assert.Contains("request larger than", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("PING\r\n", new[] { "PING" })]
    [InlineData("set  key\tvalue\n", new[] { "set", "key", "value" })]
    [InlineData("  get k \r\n", new[] { "get", "k" })]
    [InlineData("\r\n", new string[0])]
    [InlineData("*0\r\n", new string[0])]
    [InlineData("*-1\r\n", new string[0])]
    [InlineData("SET a \"hello world\"\r\n", new[] { "SET", "a", "hello world" })]
    [InlineData("SET a 'it''s'\r\n", null)]
    [InlineData("SET a 'it\\'s'\r\n", new[] { "SET", "a", "it's" })]
    [InlineData("SET a 'back\\slash'\r\n", new[] { "SET", "a", "back\\slash" })]
    [InlineData("SET \"\" \"a\\x41\\n\\t\\\"b\\q\"\r\n", new[] { "SET", "", "aA\n\t\"bq" })]
    [InlineData("SET \"\\xZZ\"\r\n", new[] { "SET", "xZZ" })]
    [InlineData("SET key\"with space\" v\r\n", new[] { "SET", "keywith space", "v" })]
    [InlineData("SET a\vb\fc\n", new[] { "SET", "a", "b", "c" })]
    public void InlineAndEmptyRequests_Parse(string input, string[]? expected)
    {
        int[] table = new int[4];
        byte[] bytes = Encoding.ASCII.GetBytes(input);
        byte[]? line = null;
        RespParseStatus status = RespParser.TryParse(bytes, Limits, ref table, ref line, out int count, out int consumed, out _, out _, out bool decoded);
        if (expected is null)
        {
            // 'it''s': a closing quote followed by another character, which redis refuses too.
            Assert.Equal(RespParseStatus.Error, status);
            return;
        }

        Assert.Equal(RespParseStatus.Complete, status);
        Assert.Equal(bytes.Length, consumed);
        var request = new RespRequest(decoded ? line : bytes, table, count);
        var arguments = new string[count];
        for (int i = 0; i < count; i++)
        {
            arguments[i] = Encoding.ASCII.GetString(request[i]);
        }

        Assert.Equal(expected, arguments);
    }

    [Theory]
    [InlineData("SET a \"open\r\n")]
    [InlineData("SET a 'open\r\n")]
    [InlineData("SET a \"closed\"x\r\n")]
    [InlineData("SET a \"ends in a backslash\\\r\n")]
    public void InlineQuotes_Unbalanced_IsAProtocolError(string input)
    {
        int[] table = new int[4];
        Assert.Equal(RespParseStatus.Error, Parse(Encoding.ASCII.GetBytes(input), ref table, out _, out _, out _, out string? error));
        Assert.Equal("unbalanced quotes in request", error);
    }

    [Fact]
    public void InlineCommand_ParsedTwice_ParsesTheSame_AndLeavesTheBufferAlone()
    {
        // A request whose turn yields is parsed again from the same bytes: the decoding must not have touched them.
        byte[] bytes = Encoding.ASCII.GetBytes("SET \"k 1\" '\\'v\\''\r\n");
        byte[] before = [.. bytes];
        int[] table = new int[4];
        byte[]? line = null;
        for (int pass = 0; pass < 2; pass++)
        {
            Assert.Equal(RespParseStatus.Complete, RespParser.TryParse(bytes, Limits, ref table, ref line, out int count, out _, out _, out _, out bool decoded));
            Assert.True(decoded);
            var request = new RespRequest(line, table, count);
            Assert.Equal("k 1", Encoding.ASCII.GetString(request[1]));
            Assert.Equal("'v'", Encoding.ASCII.GetString(request[2]));
        }

        Assert.Equal(before, bytes);
    }

    [Fact]
    public void InlineLine_LongerThanTheLimitWithoutANewline_IsAnError()
    {
        int[] table = new int[4];
        Assert.Equal(RespParseStatus.Incomplete, Parse(Encoding.ASCII.GetBytes("GET " + new string('k', 1000)), ref table, out _, out _, out _, out _));
        Assert.Equal(RespParseStatus.Error, Parse(Encoding.ASCII.GetBytes("GET " + new string('k', 1020)), ref table, out _, out _, out _, out string? error));
        Assert.Contains("inline command longer than", error, StringComparison.Ordinal);
    }

    private static RespParseStatus Parse(ReadOnlySpan<byte> data, ref int[] table, out int count, out int consumed, out int needed, out string? error)
    {
        byte[]? line = null;
        return RespParser.TryParse(data, Limits, ref table, ref line, out count, out consumed, out needed, out error, out _);
    }

    // What must hold for any input: no exception (a span read past its end would throw), results within the
    // buffer and the limits, and a complete request that depends on its own bytes only.
    private static void CheckAnyInput(byte[] input)
    {
        int[] table = new int[2];
        RespParseStatus status = Parse(input, ref table, out int count, out int consumed, out int needed, out string? error);
        Assert.True(table.Length <= 2 * Limits.MaxArguments);
        switch (status)
        {
            case RespParseStatus.Complete:
                Assert.InRange(consumed, 1, input.Length);
                Assert.InRange(count, 0, Limits.MaxArguments);
                for (int i = 0; i < count; i++)
                {
                    Assert.InRange(table[2 * i], 0, consumed);
                    Assert.InRange(table[(2 * i) + 1], 0, consumed - table[2 * i]);
                }

                int[] again = new int[2];
                Assert.Equal(RespParseStatus.Complete, Parse(input.AsSpan(0, consumed), ref again, out int countAgain, out int consumedAgain, out _, out _));
                Assert.Equal((count, consumed), (countAgain, consumedAgain));
                break;
            case RespParseStatus.Incomplete:
                Assert.True(needed == 0 || (needed > input.Length && needed <= Limits.MaxRequestBytes), $"needed {needed} for {input.Length} bytes");
                Assert.True(input.Length < Limits.MaxRequestBytes);
                break;
            default:
                Assert.False(string.IsNullOrEmpty(error));
                break;
        }
    }
}
