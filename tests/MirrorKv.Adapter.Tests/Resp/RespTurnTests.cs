using System.Diagnostics;
using System.Text;
using MirrorKv.Protocol;

namespace MirrorKv.Adapter.Tests.Resp;

/// <summary>
/// A RESP connection gives its thread back once it has served for a turn's budget: a command that outlasts the
/// primary's lease (FLUSHDB of a large store) runs in turns, so the lease is renewed meanwhile and the pair stays as
/// it was, instead of the node fencing halfway through.
/// </summary>
public class RespTurnTests
{
    // A lease of 100 ms: a flush of 200,000 keys takes several (about 1.6 µs a key on this VM, plus replication).
    private static NodeOptions ShortLease(NodeOptions options) => options with
    {
        HeartbeatInterval = TimeSpan.FromMilliseconds(20),
        HeartbeatMisses = 5,
        Store = options.Store with { MaxMemory = 256UL << 20, SlabSize = 1 << 20 },
        MaxFrameSize = 4 << 20,
    };

    [Fact]
    public async Task FlushDb_OfMoreKeysThanOneLeaseCanDelete_RunsInTurns_AndThePairStaysAsItWas()
    {
        await using RespNodes nodes = await RespNodes.StartAsync(withSecondary: true, tweak: ShortLease);
        RespTestClient client = await nodes.ConnectAsync();
        const int Keys = 200_000;
        await LoadAsync(client, Keys);
        RespTestClient secondary = await nodes.ConnectAsync(nodes.Secondary!);
        Assert.Equal(Keys, (await secondary.CallAsync("DBSIZE")).Integer);
        ulong epoch = nodes.Primary.Epoch;

        // Another client is served while the flush runs: its PING comes back before the flush's reply.
        RespTestClient other = await nodes.ConnectAsync();
        var clock = Stopwatch.StartNew();
        await client.SendAsync(RespTestClient.Encode("FLUSHDB"));
        Assert.Equal("PONG", (await other.CallAsync("PING")).String);
        TimeSpan ping = clock.Elapsed;
        Assert.Equal("+OK", (await client.ReadAsync(seconds: 60)).ToString());
        TimeSpan flush = clock.Elapsed;

        Assert.Equal(0, (await client.CallAsync("DBSIZE")).Integer);
        Assert.Equal(0, (await secondary.CallAsync("DBSIZE")).Integer);
        Assert.Equal(NodeRole.Primary, nodes.Primary.Role);
        Assert.Equal(epoch, nodes.Primary.Epoch);
        Assert.Equal(NodeRole.Secondary, nodes.Secondary!.Role);
        Assert.True(flush > nodes.Primary.Options.LeaseDuration, $"the flush took {flush.TotalMilliseconds:F0} ms, within one lease: the test proves nothing");
        Assert.True(ping < flush, $"PING after {ping.TotalMilliseconds:F0} ms, the flush's reply after {flush.TotalMilliseconds:F0} ms\n{nodes.Log}");

        // The connection goes on serving in order after its flush.
        Assert.Equal("+OK", (await client.CallAsync("SET", "after", "1")).ToString());
        Assert.Equal("1", (await secondary.CallAsync("GET", "after")).String);
    }

    [Fact]
    public async Task FlushDb_PipelinedBetweenWrites_KeepsTheConnectionsOrder()
    {
        await using RespNodes nodes = await RespNodes.StartAsync(withSecondary: true, tweak: ShortLease);
        RespTestClient client = await nodes.ConnectAsync();
        await LoadAsync(client, 100_000);

        long commandsBefore = CommandsProcessed((await client.CallAsync("INFO", "stats")).String!);

        // The SET before the flush is flushed with the rest; the one after it survives; replies come in order.
        byte[] burst = [.. RespTestClient.Encode("SET", "before", "1"), .. RespTestClient.Encode("FLUSHDB"), .. RespTestClient.Encode("SET", "after", "2"), .. RespTestClient.Encode("DBSIZE")];
        await client.SendAsync(burst);
        Assert.Equal("+OK", (await client.ReadAsync()).ToString());
        Assert.Equal("+OK", (await client.ReadAsync(seconds: 60)).ToString());
        Assert.Equal("+OK", (await client.ReadAsync()).ToString());
        Assert.Equal(1, (await client.ReadAsync()).Integer);
        Assert.Equal("2", (await client.CallAsync("GET", "after")).String);
        Assert.True((await client.CallAsync("GET", "before")).IsNull);

        // INFO counts the flush as one command however many turns it took: its own, 4 in the burst, 2 GETs.
        Assert.Equal(commandsBefore + 7, CommandsProcessed((await client.CallAsync("INFO", "stats")).String!));
    }

    private static long CommandsProcessed(string info) =>
        long.Parse(info.Split("\r\n").Single(line => line.StartsWith("total_commands_processed:", StringComparison.Ordinal)).Split(':')[1], System.Globalization.CultureInfo.InvariantCulture);

    // Pipelined SETs in bursts of 5,000, each burst's replies read before the next is sent.
    private static async Task LoadAsync(RespTestClient client, int keys)
    {
        byte[] value = Encoding.ASCII.GetBytes(new string('v', 32));
        for (int start = 0; start < keys; start += 5_000)
        {
            int count = Math.Min(5_000, keys - start);
            var burst = new List<byte>();
            for (int i = start; i < start + count; i++)
            {
                burst.AddRange(RespTestClient.Encode("SET", $"key:{i}", value));
            }

            await client.SendAsync([.. burst]);
            for (int i = 0; i < count; i++)
            {
                Assert.Equal("+OK", (await client.ReadAsync()).ToString());
            }
        }
    }
}
