using System.Net;
using MirrorKv.Client;
using MirrorKv.Protocol;
using MirrorKv.Store;
using MirrorKv.Transport.InProcess;

namespace MirrorKv.Adapter.Tests;

/// <summary>
/// Values larger than a slab and than a client's frame, end to end on a pair: written in one frame, read in pieces no
/// larger than the client's frame and validated whole, copied by a joining secondary, replicated, translated with one
/// delta per entry, and read after a failover through FAILOVER_READ and then a rewritten table.
/// </summary>
public class LargeValuePairTests
{
    // 1 MiB slabs as in production; frames sized by the nodes for their largest value (16 MiB by default).
    private static readonly StoreOptions Store = new() { MaxMemory = 112UL << 20 };
    private static readonly System.Collections.Concurrent.ConcurrentQueue<string> Lines = new();
    private static readonly int[] Sizes = [100, 900_000, 1_500_000, 5_000_000, 9_000_000, 16 << 20];

    [Fact]
    public async Task LargeValues_UpTo16MiB_AreReadInFramePieces_CopiedReplicated_AndReadAfterFailover()
    {
        var network = new InProcessNetwork();
        await using MirrorKvNode primary = await StartAsync(network, NodeRole.Primary, PairFixture.PrimaryAddress, null);
        Assert.True(primary.Options.MaxFrameSize > 16 << 20, "a node's frames hold a WRITE of its largest value");
        await using MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions
        {
            EndPoints = [primary.EndPoint],
            Transport = network.CreateTransport(PairFixture.ClientAddress),
            RewriteTableOnFailover = true,
            RequestTimeout = TimeSpan.FromSeconds(10),
            LoggerFactory = new CapturingLoggerFactory(Lines, "C"),
        });

        var model = new Dictionary<string, byte[]>();
        for (int i = 0; i < Sizes.Length; i++)
        {
            model[$"before-{i}"] = Value(Sizes[i], i);
            await client.SetAsync($"before-{i}", model[$"before-{i}"]);
        }

        // The secondary joins: it copies each large entry's span with one READ of its slot.
        await using MirrorKvNode secondary = await StartAsync(network, NodeRole.Secondary, PairFixture.SecondaryAddress, primary.EndPoint);
        await Waits.UntilAsync(() => primary.IsProtected && secondary.IsProtected, seconds: 30);

        // Through the stream: new large entries, one relocated to another size, one deleted.
        for (int i = 0; i < Sizes.Length; i++)
        {
            model[$"after-{i}"] = Value(Sizes[i], 100 + i);
            await client.SetAsync($"after-{i}", model[$"after-{i}"]);
        }

        model["before-3"] = Value(7_000_000, 7);
        await client.SetAsync("before-3", model["before-3"]);
        Assert.True(await client.DeleteAsync("before-4"));
        model.Remove("before-4");
        Assert.True(await client.WaitForSecondaryAsync());

        long readsBefore = client.Stats.Reads;
        foreach ((string key, byte[] value) in model)
        {
            Assert.Equal(value, await client.GetAsync(key));
        }

        // A 16 MiB value is 5 READs of at most the client's frame less its header.
        Assert.True(client.Stats.Reads - readsBefore >= model.Count + 4, $"{client.Stats.Reads - readsBefore} READs");

        // One byte over the limit: refused, and the key keeps its value.
        MirrorKvException refused = await Assert.ThrowsAsync<MirrorKvException>(async () => await client.SetAsync("after-5", new byte[(16 << 20) + 1]));
        Assert.Equal(MirrorKvError.ValueTooLarge, refused.Error);
        Assert.Equal(model["after-5"], await client.GetAsync("after-5"));

        await Waits.UntilAsync(() => secondary.Lsn == primary.Lsn);
        PairAudit.AssertIdentical(primary.Store, secondary.Store, model.Keys.Append("before-4"));

        // The primary fails: the pieces go to the secondary as FAILOVER_READs, translated there with one delta per
        // entry, then as plain READs of the rewritten table.
        network.Crash(PairFixture.PrimaryAddress);
        foreach ((string key, byte[] value) in model)
        {
            Assert.Equal(value, await client.GetAsync(key));
        }

        await Waits.UntilAsync(() => client.Path == ClientPath.Secondary, seconds: 10);
        Assert.True(client.Stats.TableRewrites >= 1, string.Join("\n", Lines));
        long failoverReads = client.Stats.FailoverReads;
        foreach ((string key, byte[] value) in model)
        {
            Assert.Equal(value, await client.GetAsync(key));
        }

        Assert.Equal(failoverReads, client.Stats.FailoverReads);
    }

    [Fact]
    public async Task ValueLargerThanTheNodesFrames_IsRefusedAsValueTooLarge_WithoutLosingTheConnection()
    {
        // Frames of 1 MiB cap the value limit (NodeOptions.EffectiveStore); the client knows them from HELLO.
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync(requestTimeout: TimeSpan.FromSeconds(10), loggers: new CapturingLoggerFactory(Lines, "C"));
        int limit = pair.Primary.Store.Options.EffectiveMaxValueLength;
        Assert.True(limit < 1 << 20 && limit > 900_000, $"limit {limit}");
        byte[] atLimit = Value(limit, 1);
        await client.SetAsync("k", atLimit);
        foreach (int size in new[] { limit + 1, 2 << 20 })
        {
            MirrorKvException e = await Assert.ThrowsAsync<MirrorKvException>(async () => await client.SetAsync("k", new byte[size]));
            Assert.Equal(MirrorKvError.ValueTooLarge, e.Error);
        }

        string[] keys = ["a", "b", "c"];
        ReadOnlyMemory<byte>[] values = [Value(10, 2), new byte[3 << 20], Value(20, 3)];
        MirrorKvException batch = await Assert.ThrowsAsync<MirrorKvException>(async () => await client.SetManyAsync(keys, values));
        Assert.Equal(MirrorKvError.ValueTooLarge, batch.Error);
        Assert.Equal(values[0].ToArray(), await client.GetAsync("a"));
        Assert.Null(await client.GetAsync("b"));
        Assert.Equal(values[2].ToArray(), await client.GetAsync("c"));
        Assert.Equal(atLimit, await client.GetAsync("k"));
        Assert.Equal(ClientPath.Primary, client.Path);
        Assert.True(client.Stats.RetriedAfterFailure == 0, string.Join("\n", Lines));
    }

    private static Task<MirrorKvNode> StartAsync(InProcessNetwork network, NodeRole role, IPAddress address, IPEndPoint? primary) =>
        MirrorKvNode.StartAsync(
            new NodeOptions { Role = role, ListenEndPoint = new IPEndPoint(address, 7400), PrimaryEndPoint = primary, Store = Store, TimeProvider = network.TimeFor(address),

                // Three nodes and 16 MiB buffers in one process on a loaded machine: a GC pause must not lapse the lease.
                HeartbeatMisses = 20 },
            network.CreateTransport(address), new CapturingLoggerFactory(Lines, role.ToString()[..1]));

    private static byte[] Value(int length, int seed)
    {
        var value = new byte[length];
        new Random(seed).NextBytes(value);
        return value;
    }
}
