using System.Net;
using MirrorKv.Adapter.Tests.Safety;
using MirrorKv.Memory;
using MirrorKv.Protocol;
using MirrorKv.Protocol.Tests;
using MirrorKv.Store;
using MirrorKv.Transport.Tcp;

namespace MirrorKv.Adapter.Tests.Conformance;

/// <summary>
/// The check tables of READ and FAILOVER_READ in docs/protocol.md: each row's pointer also fails every later
/// row, so the status proves both the check and its place in the order.
/// </summary>
public class ReadOrderTests
{
    private const ulong MiB = 1 << 20;

    [Fact]
    public async Task Read_AndFailoverRead_RefuseInTheDocumentedOrder()
    {
        // One 16 MiB region, so that the rows' addresses past slab 0 lie inside it.
        StoreOptions store = new() { MaxMemory = 16 * MiB, SlabSize = (int)MiB, FirstChunkSize = 16 * MiB };
        await using TcpPair primary = await TcpPair.StartPrimaryAsync(TcpPair.Options with { Store = store, MaxFrameSize = 2 << 20 });
        await using MirrorKvNode secondary = await MirrorKvNode.StartAsync(
            new NodeOptions { Role = NodeRole.Secondary, ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0), PrimaryEndPoint = primary.EndPoint, Store = store, MaxFrameSize = 2 << 20 },
            new TcpTransport(2 << 20));
        await Waits.UntilAsync(() => primary.Primary.IsProtected && secondary.IsProtected);
        await primary.Client.SetAsync("k1", "v1"u8.ToArray());

        MemoryRegion region = primary.Primary.Store.Regions[0];
        (uint rkey, ulong b, ulong end) = (region.RKey, region.BaseAddress, region.BaseAddress + region.Length);
        Assert.True(primary.Primary.Store.TryLookup("k1"u8, out RemotePointer k1, out _) && k1.Address - b < MiB, "the first entry is in slab 0");

        // READ with the default 4 MiB frames: order -> a pointer failing that row and every later one.
        var read = new Dictionary<int, RemotePointer?>
        {
            [1] = new RemotePointer(rkey ^ 0x5a5a5a5a, b, 0),
            [2] = new RemotePointer(rkey, b - 1, 0),
            [3] = new RemotePointer(rkey, b - 1, 8 << 20),
            [4] = new RemotePointer(rkey, ulong.MaxValue - 16, 64),
            [5] = new RemotePointer(rkey, end - 32, 8 << 20),
            [6] = null, // no node registers a region without remote read
            [7] = new RemotePointer(rkey, b, 8 << 20),
        };
        await using (RawSocket raw = await GreetAsync(primary.EndPoint, ProtocolLimits.DefaultMaxFrameSize))
        {
            await AssertOrderAsync(raw, Opcode.Read, ProtocolDocument.Table("READ (0x02)", "order"), read);
        }

        // FAILOVER_READ at the secondary, by a caller with the smallest frames (66,560): only slab 0 is mapped.
        var failover = new Dictionary<int, RemotePointer?>
        {
            [1] = new RemotePointer(rkey ^ 0x5a5a5a5a, b, 0),
            [2] = new RemotePointer(rkey, b - 1, 0),
            [3] = new RemotePointer(rkey, b - 1, 100_000),
            [4] = new RemotePointer(rkey, ulong.MaxValue - 16, 64),
            [5] = new RemotePointer(rkey, end - 32, 100_000),
            [6] = new RemotePointer(rkey, b + MiB - 10, 100_000),
            [7] = new RemotePointer(rkey, end - MiB, 100_000),
            [8] = new RemotePointer(rkey, b, 100_000),
        };
        await using (RawSocket raw = await GreetAsync(secondary.EndPoint, 1_000))
        {
            await AssertOrderAsync(raw, Opcode.FailoverRead, ProtocolDocument.Table("FAILOVER_READ (0x03)", "order"), failover);
        }
    }

    private static async Task AssertOrderAsync(RawSocket raw, Opcode opcode, IReadOnlyList<string[]> rows, Dictionary<int, RemotePointer?> cases)
    {
        Assert.Equal(cases.Keys.Order(), rows.Select(r => int.Parse(r[0], System.Globalization.CultureInfo.InvariantCulture)));
        foreach (string[] row in rows)
        {
            if (cases[int.Parse(row[0], System.Globalization.CultureInfo.InvariantCulture)] is not { } pointer)
            {
                Assert.Contains("no node registers", row[1], StringComparison.Ordinal);
                continue;
            }

            byte[] frame = RawSocket.ReadFrame(7, pointer);
            frame[4] = (byte)opcode;
            Answer answer = await Answer.AskAsync(raw, frame);
            var documented = (WireStatus)Assert.Single(ProtocolDocument.Numbers(row[2]));
            Assert.True(answer.Status == documented && !answer.Closed, $"{opcode} row {row[0]} ({row[1]}): the page says {documented}, the node said {answer.Status} ({answer.Text})");
        }
    }

    private static async Task<RawSocket> GreetAsync(IPEndPoint node, uint maxFrameSize)
    {
        RawSocket raw = await RawSocket.ConnectAsync(node);
        Assert.Equal(WireStatus.Ok, (await Answer.AskAsync(raw, RawSocket.HelloFrame(maxFrameSize: maxFrameSize))).Status);
        return raw;
    }
}
