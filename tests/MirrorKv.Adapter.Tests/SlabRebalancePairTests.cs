using System.Text;
using MirrorKv.Adapter;
using MirrorKv.Client;
using MirrorKv.Memory;
using MirrorKv.Protocol;
using MirrorKv.Store;

namespace MirrorKv.Adapter.Tests;

/// <summary>
/// Slab rebalancing through a pair: a slab emptied by one size class serves another (the calcification case of
/// issue 16 fixed), the secondary follows every move through its translation and stays identical, and a client
/// holding pointers into moved slabs, on either node, reads each key's own value or looks it up again.
/// </summary>
public class SlabRebalancePairTests
{
    // 16 slabs of 64 KiB: small enough that a few thousand writes fill it.
    private static readonly StoreOptions Tiny = new() { MaxMemory = 1UL << 20, SlabSize = 64 << 10 };

    [Fact]
    public async Task Set_LargeValueAfterSmallValuesFilledThePairAndWereDeleted_Succeeds()
    {
        await using PairFixture pair = await PairFixture.StartAsync(store: Tiny);
        MirrorKvClient client = await pair.ConnectClientAsync();
        int filled = 0;
        while (true)
        {
            try
            {
                // 400 B values: the slots run out before the index may no longer grow (with 100 B ones the index's
                // limit refused a key while a slab was still unclaimed, and the large value needed no slab moved).
                await client.SetAsync($"small-{filled}", new byte[400]);
                filled++;
            }
            catch (MirrorKvException e) when (e.Error == MirrorKvError.OutOfMemory)
            {
                break;
            }
        }

        StoreStats full = pair.Primary.Store.GetStats();
        Assert.True(full.ClaimedSlabs == full.SlabCount, $"the fill left a slab unclaimed: {full}");
        for (int i = 0; i < filled; i++)
        {
            Assert.True(await client.DeleteAsync($"small-{i}"));
        }

        await client.SetAsync("large", new byte[1000]);

        Assert.Equal(new byte[1000], await client.GetAsync("large"));
        Assert.True(pair.Primary.Store.SlabsMoved == 1, $"filled {filled}: {pair.Primary.Store.GetStats()}");
        await Waits.UntilAsync(() => pair.Secondary.Lsn == pair.Primary.Lsn);
        Assert.Equal(1, pair.Secondary.Store.SlabsMoved);
        Assert.True(pair.Secondary.Store.TryLookup("large"u8, out _, out _));
    }

    [Fact]
    public async Task ManySlabMoves_SecondaryIdenticalToPrimary_AndStalePointersReadOwnValuesOnBothNodes()
    {
        await using PairFixture pair = await PairFixture.StartAsync(store: Tiny);
        MirrorKvClient writer = await pair.ConnectClientAsync();
        MirrorKvClient reader = await pair.ConnectClientAsync();
        var model = new Dictionary<string, byte[]>();
        var random = new Random(16);
        const int Keys = 400;
        for (int phase = 0; phase < 9; phase++)
        {
            // Each phase writes one size range until the store is nearly full, the reader caches pointers to
            // what it reads, and most keys are deleted, emptying slabs the next phase's class takes over.
            for (int i = 0; i < Keys; i++)
            {
                string key = $"key-{random.Next(Keys)}";
                byte[] value = Value(random, (phase % 3) switch { 0 => random.Next(1, 60), 1 => random.Next(300, 600), _ => random.Next(2000, 4000) });
                try
                {
                    await writer.SetAsync(key, value);
                    model[key] = value;
                }
                catch (MirrorKvException e) when (e.Error == MirrorKvError.OutOfMemory)
                {
                }
            }

            await ReadAllAsync(reader, model, Keys);
            foreach (string key in model.Keys.Where(_ => random.Next(6) != 0).ToList())
            {
                Assert.True(await writer.DeleteAsync(key));
                model.Remove(key);
            }
        }

        Assert.True(pair.Primary.Store.SlabsMoved >= 16, $"only {pair.Primary.Store.SlabsMoved} slab moves");
        await Waits.UntilAsync(() => pair.Secondary.Lsn == pair.Primary.Lsn);
        Assert.Equal(pair.Primary.Store.SlabsMoved, pair.Secondary.Store.SlabsMoved);
        AssertIdentical(pair, Keys);

        // The reader's table points into slabs that changed class since; first on the primary, then, after a
        // crash, through FAILOVER_READ and the rewritten table on the secondary.
        await ReadAllAsync(reader, model, Keys);
        pair.Network.Crash(PairFixture.PrimaryAddress);
        await ReadAllAsync(reader, model, Keys);
    }

    [Fact]
    public async Task Join_SlabCopyWhileSlabsMoveBetweenClasses_EndsIdenticalToPrimary()
    {
        var network = new Transport.InProcess.InProcessNetwork();
        await using MirrorKvNode primary = await PairFixture.StartPrimaryAsync(network, store: Tiny);
        await using MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [primary.EndPoint], Transport = network.CreateTransport(PairFixture.ClientAddress) });
        var random = new Random(7);
        const int Keys = 400;
        await PhaseAsync(client, random, 0, Keys);
        await PhaseAsync(client, random, 1, Keys);

        // The copy of slabs listed at the attach races phases that release and reclaim them for other classes.
        using var stop = new CancellationTokenSource();
        long movesAtJoin = primary.Store.SlabsMoved;
        Task writer = Task.Run(async () =>
        {
            for (int phase = 2; !stop.IsCancellationRequested; phase++)
            {
                await PhaseAsync(client, random, phase, Keys);
            }
        });
        await using MirrorKvNode secondary = await PairFixture.StartSecondaryAsync(network, PairFixture.SecondaryAddress, primary.EndPoint, Tiny);
        await Waits.UntilAsync(() => primary.IsProtected && secondary.IsProtected, seconds: 20);
        await Waits.UntilAsync(() => primary.Store.SlabsMoved > movesAtJoin + 16, seconds: 20);
        await stop.CancelAsync();
        await writer;
        await Waits.UntilAsync(() => secondary.Lsn == primary.Lsn);

        Assert.Equal(NodeRole.Secondary, secondary.Role);
        AssertIdentical(primary.Store, secondary.Store, Keys);
    }

    // One size range (by phase) written over the keys, then most keys deleted.
    private static async Task PhaseAsync(MirrorKvClient client, Random random, int phase, int keys)
    {
        for (int i = 0; i < keys; i++)
        {
            byte[] value = Value(random, (phase % 3) switch { 0 => random.Next(1, 60), 1 => random.Next(300, 600), _ => random.Next(2000, 4000) });
            try
            {
                await client.SetAsync($"key-{random.Next(keys)}", value);
            }
            catch (MirrorKvException e) when (e.Error == MirrorKvError.OutOfMemory)
            {
            }
        }

        for (int i = 0; i < keys; i++)
        {
            if (random.Next(6) != 0)
            {
                await client.DeleteAsync($"key-{i}");
            }
        }
    }

    private static async Task ReadAllAsync(MirrorKvClient client, Dictionary<string, byte[]> model, int keys)
    {
        for (int i = 0; i < keys; i++)
        {
            string key = $"key-{i}";
            byte[]? read = await client.GetAsync(key);
            if (model.TryGetValue(key, out byte[]? value))
            {
                Assert.Equal(value, read);
            }
            else
            {
                Assert.Null(read);
            }
        }
    }

    // Every key present on both nodes or neither, at translated addresses, with the same version and bytes.
    private static void AssertIdentical(PairFixture pair, int keys) => AssertIdentical(pair.Primary.Store, pair.Secondary.Store, keys);

    private static void AssertIdentical(StoreEngine primary, StoreEngine secondary, int keys) =>
        PairAudit.AssertIdentical(primary, secondary, Enumerable.Range(0, keys).Select(i => $"key-{i}"));

    private static byte[] Value(Random random, int length)
    {
        var value = new byte[length];
        random.NextBytes(value);
        return value;
    }
}
