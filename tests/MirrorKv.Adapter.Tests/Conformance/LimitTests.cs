using System.Net;
using MirrorKv.Adapter.Tests.Safety;
using MirrorKv.Memory;
using MirrorKv.Protocol;
using MirrorKv.Protocol.Tests;
using MirrorKv.Transport.Tcp;

namespace MirrorKv.Adapter.Tests.Conformance;

/// <summary>The rows of "Limits" in docs/protocol.md that a node enforces, read from the page.</summary>
public class LimitTests
{
    [Fact]
    public void LargestRead_IsDocumentedAsTheCallersClampedFrameMinusTheHeader()
    {
        string[] row = ProtocolDocument.Row(ProtocolDocument.Table("Limits", "limit"), "largest READ");
        Assert.Equal([FrameHeader.Size, ProtocolLimits.MinMaxFrameSize, ProtocolLimits.MaxMaxFrameSize], ProtocolDocument.Numbers(row[1]));
    }

    [Theory]
    [InlineData(1_000)]
    [InlineData(70_000)]
    [InlineData(4 << 20)]
    public async Task Read_UpToTheLimit_IsServed_OneByteMore_IsTooLong(uint announced)
    {
        // M − 16, M = the HELLO's maximum clamped to [low, high], with the numbers the page gives.
        long[] numbers = ProtocolDocument.Numbers(ProtocolDocument.Row(ProtocolDocument.Table("Limits", "limit"), "largest READ")[1]);
        (long header, long low, long high) = (numbers[0], numbers[1], numbers[2]);
        long limit = Math.Clamp(announced, low, high) - header;

        // One region larger than the largest READ.
        await using TcpPair node = await TcpPair.StartPrimaryAsync(TcpPair.Options with { Store = PairFixture.SmallStore with { FirstChunkSize = 8UL << 20 } });
        await using RawSocket raw = await RawSocket.ConnectAsync(node.EndPoint);
        await raw.SendAsync(RawSocket.HelloFrame(maxFrameSize: announced));
        Assert.Equal(WireStatus.Ok, (await raw.ReceiveAsync())!.Value.Header.Status);
        MemoryRegion first = node.Primary.Store.Regions[0];
        RegionInfo region = new(first.RKey, AccessFlags.RemoteRead, first.BaseAddress, first.Length);
        Assert.True((ulong)limit < region.Length);

        await raw.SendAsync(RawSocket.ReadFrame(1, new RemotePointer(region.RKey, region.BaseAddress, (uint)limit)));
        (FrameHeader header, byte[] payload) served = (await raw.ReceiveAsync())!.Value;
        Assert.Equal((WireStatus.Ok, (int)limit), (served.header.Status, served.payload.Length));

        await raw.SendAsync(RawSocket.ReadFrame(2, new RemotePointer(region.RKey, region.BaseAddress, (uint)limit + 1)));
        Assert.Equal(WireStatus.TooLong, (await raw.ReceiveAsync())!.Value.Header.Status);
    }

    [Fact]
    public async Task MaxConnections_CountsThePeerLink()
    {
        Assert.Contains("the peer link included", ProtocolDocument.Row(ProtocolDocument.Table("Limits", "limit"), "connections per node")[1], StringComparison.Ordinal);

        // Room for two: the well-behaved client TcpPair connects, and one more.
        await using TcpPair primary = await TcpPair.StartPrimaryAsync(TcpPair.Options with { MaxConnections = 2 });
        await using (RawSocket before = await RawSocket.ConnectAsync(primary.EndPoint))
        {
            await before.GreetAsync();
        }

        await Waits.UntilAsync(() => primary.Primary.ConnectionCount == 1);
        await using MirrorKvNode secondary = await MirrorKvNode.StartAsync(
            new NodeOptions { Role = NodeRole.Secondary, ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0), PrimaryEndPoint = primary.EndPoint, Store = PairFixture.SmallStore, MaxFrameSize = 1 << 20 },
            new TcpTransport(1 << 20));
        await Waits.UntilAsync(() => primary.Primary.IsProtected);
        Assert.Equal(2, primary.Primary.ConnectionCount);

        // The peer link took the second place: a client is now refused.
        await using RawSocket after = await RawSocket.ConnectAsync(primary.EndPoint);
        (WireStatus Status, string Message)? refused = await after.ReceiveUntilClosedAsync();
        Assert.Equal(WireStatus.TooManyConnections, refused?.Status);
        await primary.AssertServesAsync("with-the-peer-link");
    }
}
