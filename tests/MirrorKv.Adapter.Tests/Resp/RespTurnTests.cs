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
    // The default lease (500 ms), and a store of 600,000 keys: a flush takes most of a lease on an idle machine
    // (0.66 µs a key here), more than one on a loaded one.
    private static NodeOptions LargeStore(NodeOptions options) => options with
    {
        Store = options.Store with { MaxMemory = 512UL << 20, SlabSize = 1 << 20 },
        MaxFrameSize = 4 << 20,
    };

    [Fact]
    public async Task FlushDb_OfMoreKeysThanOneLeaseCanDelete_RunsInTurns_AndThePairStaysAsItWas()
    {
        // One event loop serves every connection of the primary: while the flush held it, nothing else was served.
        await using RespNodes nodes = await RespNodes.StartAsync(withSecondary: true, tweak: LargeStore, eventLoops: 1);
        RespTestClient client = await nodes.ConnectAsync();
        const int Keys = 600_000;
        await LoadAsync(client, Keys);
        RespTestClient secondary = await nodes.ConnectAsync(nodes.Secondary!);
        Assert.Equal(Keys, (await secondary.CallAsync("DBSIZE")).Integer);
        ulong epoch = nodes.Primary.Epoch;

        // Another client is served while the flush runs: its PING comes back within a few turns, long before the flush's reply.
        RespTestClient other = await nodes.ConnectAsync();
        var clock = Stopwatch.StartNew();
        await client.SendAsync(RespTestClient.Encode("FLUSHDB"));
        Assert.Equal("PONG", (await other.CallAsync("PING")).String);
        TimeSpan ping = clock.Elapsed;
        RespReply reply;
        try
        {
            reply = await client.ReadAsync(seconds: 60);
        }
        catch (IOException e)
        {
            throw new Xunit.Sdk.XunitException($"{e.Message}\n{nodes.Log}");
        }

        Assert.Equal("+OK", reply.ToString());
        TimeSpan flush = clock.Elapsed;

        Assert.Equal(0, (await client.CallAsync("DBSIZE")).Integer);
        Assert.Equal(0, (await secondary.CallAsync("DBSIZE")).Integer);
        Assert.Equal(NodeRole.Primary, nodes.Primary.Role);
        Assert.Equal(epoch, nodes.Primary.Epoch);
        Assert.Equal(NodeRole.Secondary, nodes.Secondary!.Role);
        Assert.True(ping < flush / 2, $"PING answered after {ping.TotalMilliseconds:F0} ms, the flush after {flush.TotalMilliseconds:F0} ms: the loop was held\n{nodes.Log}");

        // The connection goes on serving in order after its flush.
        Assert.Equal("+OK", (await client.CallAsync("SET", "after", "1")).ToString());
        Assert.Equal("1", (await secondary.CallAsync("GET", "after")).String);
    }

    [Fact]
    public async Task FlushDb_PipelinedBetweenWrites_KeepsTheConnectionsOrder()
    {
        await using RespNodes nodes = await RespNodes.StartAsync(withSecondary: true, tweak: LargeStore);
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
