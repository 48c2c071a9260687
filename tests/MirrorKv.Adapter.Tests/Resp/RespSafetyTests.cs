using System.Text;

namespace MirrorKv.Adapter.Tests.Resp;

/// <summary>
/// The RESP port's safety: the node's secret through AUTH, the native port's connection limit and timeouts,
/// and malformed RESP answered with a protocol error and a closed connection, the node serving on.
/// </summary>
public class RespSafetyTests
{
    private static readonly byte[] Secret = Encoding.UTF8.GetBytes("resp-tests-secret-0123456789");

    [Theory]
    [InlineData("$3\r\nGET\r\n", "expected '*'")]
    [InlineData("\u0001\u0002garbage", "byte 0x01")]
    [InlineData("*1\r\n:5\r\n", "expected '$'")]
    [InlineData("*2\r\n$3\r\nGET\r\n$99999999999\r\n", "exceeds the largest value")]
    [InlineData("*100000\r\n", "too many arguments")]
    [InlineData("*x\r\n", "invalid array length")]
    [InlineData("*1\r\n$4\r\nPINGxx", "not followed by CRLF")]
    public async Task MalformedResp_GetsAProtocolError_ThenTheConnectionCloses_AndTheNodeServesOthers(string input, string reason)
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient bad = await nodes.ConnectAsync();
        await bad.SendAsync(Encoding.Latin1.GetBytes(input));
        RespReply reply = await bad.ReadAsync();
        Assert.True(reply.IsError);
        Assert.StartsWith("ERR Protocol error: ", reply.Text, StringComparison.Ordinal);
        Assert.Contains(reason, reply.Text, StringComparison.Ordinal);
        Assert.True(await bad.WaitClosedAsync(), "the connection stays open after a protocol error");

        RespTestClient good = await nodes.ConnectAsync();
        Assert.Equal("+OK", (await good.CallAsync("SET", "k", "v")).ToString());
    }

    [Fact]
    public async Task RequestLargerThanTheFrameLimit_IsRefusedFromItsLengthsAlone()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        int value = nodes.Primary.Store.Options.EffectiveMaxValueLength;
        int pairs = (int)(nodes.Primary.Options.MaxFrameSize / (uint)value) + 2;
        var request = new StringBuilder($"*{1 + (2 * pairs)}\r\n$4\r\nMSET\r\n");
        for (int i = 0; i < pairs; i++)
        {
            request.Append($"$1\r\n{i % 10}\r\n${value}\r\n").Append('x', value).Append("\r\n");
        }

        await client.SendAsync(Encoding.ASCII.GetBytes(request.ToString()));
        Assert.StartsWith("ERR Protocol error: request larger than", (await client.ReadAsync()).Text, StringComparison.Ordinal);
        Assert.True(await client.WaitClosedAsync());
        Assert.Equal(0, nodes.Primary.Store.GetStats().Entries);
    }

    [Fact]
    public async Task WithASecret_NothingButAuthHelloQuitIsServed_UntilTheSecretIsProved()
    {
        await using RespNodes nodes = await RespNodes.StartAsync(tweak: o => o with { Secret = Secret });
        RespTestClient client = await nodes.ConnectAsync();
        Assert.Equal("-NOAUTH Authentication required.", (await client.CallAsync("GET", "k")).ToString());
        Assert.Equal("-NOAUTH Authentication required.", (await client.CallAsync("PING")).ToString());
        Assert.StartsWith("-NOAUTH HELLO must be called", (await client.CallAsync("HELLO", "3")).ToString(), StringComparison.Ordinal);
        Assert.Equal("-WRONGPASS invalid username-password pair or user is disabled.", (await client.CallAsync("AUTH", "wrong")).ToString());
        Assert.Equal("-WRONGPASS invalid username-password pair or user is disabled.", (await client.CallAsync("AUTH", "admin", Secret)).ToString());
        Assert.Equal("-ERR unknown command 'NOPE', with args beginning with: ", (await client.CallAsync("NOPE")).ToString());
        Assert.Equal("+OK", (await client.CallAsync("AUTH", Secret)).ToString());
        Assert.Equal("+OK", (await client.CallAsync("SET", "k", "v")).ToString());

        RespTestClient second = await nodes.ConnectAsync();
        Assert.Equal("+OK", (await second.CallAsync("AUTH", "default", Secret)).ToString());
        Assert.Equal("v", (await second.CallAsync("GET", "k")).String);

        RespTestClient third = await nodes.ConnectAsync();
        Assert.StartsWith("-WRONGPASS", (await third.CallAsync("HELLO", "3", "AUTH", "default", "nope")).ToString(), StringComparison.Ordinal);
        RespReply hello = await third.CallAsync("HELLO", "3", "AUTH", "default", Secret);
        Assert.Equal('%', hello.Type);
        Assert.Equal("v", (await third.CallAsync("GET", "k")).String);
    }

    [Fact]
    public async Task WithASecret_BeforeAuth_ARequestIsBoundedAsRedisBoundsUnauthenticatedClients()
    {
        await using RespNodes nodes = await RespNodes.StartAsync(tweak: o => o with { Secret = Secret });

        // The start of a 16 MB SET from a client that never authenticated: an error at its length line, then closed.
        RespTestClient stranger = await nodes.ConnectAsync();
        await stranger.SendAsync(Encoding.ASCII.GetBytes("*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$16000000\r\n" + new string('z', 1000)));
        string error = (await stranger.ReadAsync()).Text ?? "";
        Assert.StartsWith("ERR Protocol error: unauthenticated request too large", error, StringComparison.Ordinal);
        Assert.Contains("AUTH first", error, StringComparison.Ordinal);
        Assert.True(await stranger.WaitClosedAsync());

        // Eleven arguments, too.
        RespTestClient many = await nodes.ConnectAsync();
        Assert.StartsWith("-ERR Protocol error: unauthenticated request too large (too many arguments", (await many.CallAsync("DEL", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j")).ToString(), StringComparison.Ordinal);

        // Once authenticated, the node's own limits hold: a value of 100,000 bytes is written and read back.
        RespTestClient client = await nodes.ConnectAsync();
        Assert.Equal("+OK", (await client.CallAsync("AUTH", Secret)).ToString());
        string value = new('v', 100_000);
        Assert.Equal("+OK", (await client.CallAsync("SET", "big", value)).ToString());
        Assert.Equal(value, (await client.CallAsync("GET", "big")).String);
        Assert.Equal(0, nodes.Primary.Store.GetStats().Entries - 1);
    }

    [Fact]
    public async Task WithoutASecret_AuthIsAnErrorAsInRedis_ButAuthDefaultIsAccepted()
    {
        await using RespNodes nodes = await RespNodes.StartAsync();
        RespTestClient client = await nodes.ConnectAsync();
        Assert.StartsWith("-ERR AUTH <password> called without any password configured", (await client.CallAsync("AUTH", "x")).ToString(), StringComparison.Ordinal);
        Assert.Equal("+OK", (await client.CallAsync("AUTH", "default", "anything")).ToString());
    }

    [Fact]
    public async Task UnauthenticatedConnection_IsClosedAfterTheHandshakeTimeout()
    {
        await using RespNodes nodes = await RespNodes.StartAsync(tweak: o => o with { Secret = Secret, HandshakeTimeout = TimeSpan.FromMilliseconds(300) });
        RespTestClient idle = await nodes.ConnectAsync();
        RespTestClient proved = await nodes.ConnectAsync();
        Assert.Equal("+OK", (await proved.CallAsync("AUTH", Secret)).ToString());
        Assert.True(await idle.WaitClosedAsync(5), "an unauthenticated connection outlived the handshake timeout");

        // A connection opened after the authenticated one, closed for the same timeout: the guard has swept past the
        // authenticated connection's deadline too, and left it open.
        RespTestClient later = await nodes.ConnectAsync();
        Assert.True(await later.WaitClosedAsync(5), "a later unauthenticated connection outlived the handshake timeout");
        Assert.Equal("+PONG", (await proved.CallAsync("PING")).ToString());
    }

    [Fact]
    public async Task IncompleteRequest_IsClosedAfterTheFrameTimeout()
    {
        await using RespNodes nodes = await RespNodes.StartAsync(tweak: o => o with { FrameTimeout = TimeSpan.FromMilliseconds(300) });
        RespTestClient slow = await nodes.ConnectAsync();
        await slow.SendAsync("*2\r\n$3\r\nGET\r\n$10\r\nabc"u8.ToArray());
        Assert.True(await slow.WaitClosedAsync(5), "a connection with a request that never ends outlived the frame timeout");
    }

    [Fact]
    public async Task ConnectionsBeyondTheLimit_AreRefusedAsRedisDoes()
    {
        await using RespNodes nodes = await RespNodes.StartAsync(tweak: o => o with { MaxConnections = 2 });
        RespTestClient first = await nodes.ConnectAsync();
        RespTestClient second = await nodes.ConnectAsync();
        Assert.Equal("+PONG", (await first.CallAsync("PING")).ToString());
        Assert.Equal("+PONG", (await second.CallAsync("PING")).ToString());
        RespTestClient third = await nodes.ConnectAsync();
        Assert.Equal("-ERR max number of clients reached", (await third.ReadAsync()).ToString());
        Assert.True(await third.WaitClosedAsync());
        Assert.Equal("+PONG", (await first.CallAsync("PING")).ToString());
        Assert.Contains("rejected_connections:1\r\n", (await first.CallAsync("INFO", "stats")).String, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HugeMGet_ClosesTheConnectionAtTheOutputLimit_InsteadOfBufferingIt()
    {
        await using RespNodes nodes = await RespNodes.StartAsync(tweak: o => o with { SendQueueLimit = 64 * 1024 });
        RespTestClient client = await nodes.ConnectAsync();
        int value = nodes.Primary.Store.Options.EffectiveMaxValueLength;
        Assert.Equal("+OK", (await client.CallAsync("SET", "big", new byte[value])).ToString());

        // SendQueueLimit + 4 x MaxFrameSize is the most one connection's replies may hold; this asks for ~4x that.
        long limit = nodes.Primary.Options.SendQueueLimit + (4L * nodes.Primary.Options.MaxFrameSize);
        int keys = (int)(4 * limit / value);
        await client.SendAsync(RespTestClient.Encode(["MGET", .. Enumerable.Repeat<object>("big", keys)]));
        Assert.True(await client.WaitClosedAsync(), "the connection was not closed at the output limit");
        RespTestClient other = await nodes.ConnectAsync();
        Assert.Equal("+PONG", (await other.CallAsync("PING")).ToString());
    }
}
