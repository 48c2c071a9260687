using System.Text;
using MirrorKv.Memory;
using MirrorKv.Protocol;

namespace MirrorKv.Adapter.Tests.Safety;

/// <summary>
/// Every kind of bad input at a node on a real socket: each gets its documented status, the connection
/// stays usable when the error is the caller's alone, and the well-behaved client never notices.
/// </summary>
public class BadInputTests
{
    [Fact]
    public async Task BadReads_EachGetsItsStatus_AndTheConnectionStaysUsable()
    {
        await using TcpPair node = await TcpPair.StartPrimaryAsync();
        await using RawSocket raw = await RawSocket.ConnectAsync(node.EndPoint);
        RegionInfo region = await raw.GreetAsync();
        ulong end = region.BaseAddress + region.Length;
        (string Case, RemotePointer Pointer, WireStatus Expected)[] cases =
        [
            ("unknown rkey", new RemotePointer(region.RKey ^ 0x5a5a5a5a, region.BaseAddress, 64), WireStatus.UnknownRKey),
            ("rkey 0", new RemotePointer(0, region.BaseAddress, 64), WireStatus.UnknownRKey),
            ("before the region", new RemotePointer(region.RKey, region.BaseAddress - 1, 64), WireStatus.BeforeRegion),
            ("address 0", new RemotePointer(region.RKey, 0, 64), WireStatus.BeforeRegion),
            ("crosses the end", new RemotePointer(region.RKey, end - 32, 64), WireStatus.PastEnd),
            ("starts at the end", new RemotePointer(region.RKey, end, 1), WireStatus.PastEnd),
            ("overflows 64 bits", new RemotePointer(region.RKey, ulong.MaxValue - 16, 64), WireStatus.LengthOverflow),
            ("zero length", new RemotePointer(region.RKey, region.BaseAddress, 0), WireStatus.ZeroLength),
            ("huge length", new RemotePointer(region.RKey, region.BaseAddress, uint.MaxValue), WireStatus.PastEnd),
            ("longer than a reply frame", new RemotePointer(region.RKey, region.BaseAddress, 8 << 20), WireStatus.TooLong),
        ];

        ulong id = 100;
        foreach ((string name, RemotePointer pointer, WireStatus expected) in cases)
        {
            await raw.SendAsync(RawSocket.ReadFrame(++id, pointer));
            (FrameHeader header, byte[] payload) = await raw.ReceiveAsync() ?? throw new InvalidOperationException($"{name}: connection closed");
            Assert.Equal((Opcode.Read | Opcode.ReplyBit, id, expected), (header.Opcode, header.RequestId, header.Status));
            Assert.Contains("refused", ErrorText.Read(payload), StringComparison.Ordinal);

            // The same connection goes on serving valid reads.
            await raw.SendAsync(RawSocket.ReadFrame(++id, new RemotePointer(region.RKey, region.BaseAddress, 64)));
            (header, payload) = await raw.ReceiveAsync() ?? throw new InvalidOperationException($"{name}: closed after the error");
            Assert.Equal((WireStatus.Ok, 64), (header.Status, payload.Length));
        }

        await node.AssertServesAsync("after-bad-reads");
    }

    [Fact]
    public async Task RequestsOutsideTheCallersRights_AreRefused_AndTheConnectionStaysUsable()
    {
        await using TcpPair node = await TcpPair.StartPrimaryAsync();
        await using RawSocket raw = await RawSocket.ConnectAsync(node.EndPoint);
        RegionInfo region = await raw.GreetAsync();
        (string Case, byte[] Frame, WireStatus Expected)[] cases =
        [
            ("REPLICATE from a client", RawSocket.Frame(Opcode.Replicate, 1, new byte[40]), WireStatus.WriteNotAllowed),
            ("SLABS from a client", RawSocket.Frame(Opcode.Slabs, 2, new byte[8]), WireStatus.UnknownOpcode),
            ("unknown opcode", RawSocket.Frame((Opcode)0x55, 3, new byte[5]), WireStatus.UnknownOpcode),
            ("READ payload too short", RawSocket.Frame(Opcode.Read, 4, new byte[8]), WireStatus.MalformedFrame),
            ("WRITE payload garbage", RawSocket.Frame(Opcode.Write, 5, Encoding.ASCII.GetBytes("not a kv request")), WireStatus.MalformedFrame),
            ("HELLO twice", RawSocket.HelloFrame(), WireStatus.HandshakeRequired),
            ("AUTH after the handshake", RawSocket.Frame(Opcode.Auth, 7, new byte[32]), WireStatus.HandshakeRequired),
            ("STATUS with a reserved byte set", RawSocket.Frame(Opcode.Status, 8, [0, 0, 0, 0, 0, 0, 0, 1]), WireStatus.MalformedFrame),
            ("STATUS without its reserved bytes", RawSocket.Frame(Opcode.Status, 9, []), WireStatus.MalformedFrame),
            ("DELETE with a value", KvFrame(Opcode.Delete, 10, "k", "v"), WireStatus.MalformedFrame),
            ("LOOKUP with a value", KvFrame(Opcode.Lookup, 11, "k", "v"), WireStatus.MalformedFrame),
        ];

        foreach ((string name, byte[] frame, WireStatus expected) in cases)
        {
            await raw.SendAsync(frame);
            (FrameHeader header, byte[] payload) = await raw.ReceiveAsync() ?? throw new InvalidOperationException($"{name}: connection closed");
            Assert.True(header.Status == expected, $"{name}: {header.Status} ({ErrorText.Read(payload)})");

            // An error reply carries the request's opcode with 0x80 set, whatever the error.
            Assert.True(header.Opcode == ((Opcode)frame[4] | Opcode.ReplyBit), $"{name}: reply opcode 0x{(byte)header.Opcode:x2}");
        }

        await raw.SendAsync(RawSocket.ReadFrame(99, new RemotePointer(region.RKey, region.BaseAddress, 16)));
        Assert.Equal(WireStatus.Ok, (await raw.ReceiveAsync())!.Value.Header.Status);
        await node.AssertServesAsync("after-refusals");
    }

    private static byte[] KvFrame(Opcode opcode, ulong requestId, string key, string value)
    {
        var request = new KvRequest(0, default, Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(value));
        var payload = new byte[request.Size];
        request.Write(payload);
        return RawSocket.Frame(opcode, requestId, payload);
    }

    [Fact]
    public async Task OlderEpoch_IsRefusedWithBothEpochsNamed()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        pair.Network.Crash(PairFixture.PrimaryAddress);
        await Waits.UntilAsync(() => pair.Secondary.Role == NodeRole.Primary);
        RawClient raw = await RawClient.ConnectAsync(pair, pair.Secondary.EndPoint);
        (WireStatus status, string message) = await raw.WriteAsync(1, "k", "v");
        Assert.Equal(WireStatus.StaleEpoch, status);
        Assert.Contains("request epoch 1, node epoch 2", message, StringComparison.Ordinal);
        Assert.Equal(WireStatus.Ok, (await raw.WriteAsync(2, "k", "v")).Status);
    }

    [Fact]
    public async Task RKeyOfAnEarlierIncarnation_IsUnknown()
    {
        RegionInfo old;
        await using (TcpPair first = await TcpPair.StartPrimaryAsync())
        {
            await using RawSocket raw = await RawSocket.ConnectAsync(first.EndPoint);
            old = await raw.GreetAsync();
        }

        await using TcpPair second = await TcpPair.StartPrimaryAsync();
        await using RawSocket again = await RawSocket.ConnectAsync(second.EndPoint);
        RegionInfo current = await again.GreetAsync();
        Assert.NotEqual(old.RKey, current.RKey);
        await again.SendAsync(RawSocket.ReadFrame(1, new RemotePointer(old.RKey, current.BaseAddress, 64)));
        Assert.Equal(WireStatus.UnknownRKey, (await again.ReceiveAsync())!.Value.Header.Status);
    }

    [Theory]
    [InlineData("http", WireStatus.MalformedFrame)]
    [InlineData("huge-length", WireStatus.FrameTooLarge)]
    [InlineData("zero-length", WireStatus.MalformedFrame)]
    [InlineData("flags", WireStatus.MalformedFrame)]
    [InlineData("read-first", WireStatus.HandshakeRequired)]
    [InlineData("bad-magic", WireStatus.UnsupportedProtocol)]
    [InlineData("reply", WireStatus.MalformedFrame)]
    public async Task GarbageBeforeOrInsteadOfHandshake_IsClosedWithAReason(string kind, WireStatus expected)
    {
        await using TcpPair node = await TcpPair.StartPrimaryAsync();
        await using RawSocket raw = await RawSocket.ConnectAsync(node.EndPoint);
        byte[] hello = RawSocket.HelloFrame();
        byte[] bytes = kind switch
        {
            "http" => Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
            "zero-length" => new byte[16],
            "huge-length" => [0xff, 0xff, 0xff, 0x7f, .. hello[4..]],
            "flags" => [.. hello[..6], 1, 0, .. hello[8..]],
            "read-first" => RawSocket.ReadFrame(1, new RemotePointer(1, 4096, 64)),
            "bad-magic" => [.. hello[..16], (byte)'X', .. hello[17..]],
            _ => RawSocket.Frame(Opcode.Hello | Opcode.ReplyBit, 1, new byte[8]),
        };
        await raw.SendAsync(bytes);
        (WireStatus, string)? error = await raw.ReceiveUntilClosedAsync();
        Assert.NotNull(error);
        Assert.Equal(expected, error.Value.Item1);
        Assert.False(string.IsNullOrWhiteSpace(error.Value.Item2));
        await node.AssertServesAsync($"after-{kind}");
    }

    [Fact]
    public async Task TruncatedFrames_ThenClose_LoseNothingForOthers()
    {
        await using TcpPair node = await TcpPair.StartPrimaryAsync();
        for (int cut = 1; cut < 40; cut += 3)
        {
            await using RawSocket raw = await RawSocket.ConnectAsync(node.EndPoint);
            await raw.GreetAsync();
            byte[] frame = RawSocket.ReadFrame(1, new RemotePointer(1, 1, 1));
            await raw.SendAsync(frame[..Math.Min(cut, frame.Length - 1)]);
        }

        await node.AssertServesAsync("after-truncations");
        await Waits.UntilAsync(() => node.Primary.ConnectionCount == 1);
    }
}
