using System.Text;
using MirrorKv.Client;
using MirrorKv.Memory;
using MirrorKv.Store;
using MirrorKv.Transport.InProcess;

namespace MirrorKv.Adapter.Tests;

/// <summary>
/// A pair whose memory is many chunks on both nodes: the secondary mirrors each primary chunk with one of its
/// own (registered in another order when it joins), copies slabs of every chunk, follows new chunks from the
/// stream, and after the primary fails serves FAILOVER_READs and a rewritten table across all of them.
/// </summary>
public class ChunkedPairTests
{
    private static readonly int[] Sizes = [40, 700, 3000];

    [Fact]
    public async Task JoinCopy_FailoverReads_AndTableRewrite_WorkAcrossChunksRegisteredInAnotherOrder()
    {
        var network = new InProcessNetwork();
        await using MirrorKvNode primary = await PairFixture.StartPrimaryAsync(network);
        await using MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions
        {
            EndPoints = [primary.EndPoint],
            Transport = network.CreateTransport(PairFixture.ClientAddress),
            RewriteTableOnFailover = true,
            RequestTimeout = TimeSpan.FromSeconds(2),
        });
        const int Keys = 900;
        for (int i = 0; i < Keys; i++)
        {
            await client.SetAsync(Key(i), Value(i, 0));
        }

        int chunksBeforeJoin = primary.Store.Regions.Count;
        Assert.True(chunksBeforeJoin >= 5, $"{chunksBeforeJoin} chunks");

        // The secondary joins: it mirrors the chunks the HELLO listed, copies slabs of every one of them.
        await using MirrorKvNode secondary = await PairFixture.StartSecondaryAsync(network, PairFixture.SecondaryAddress, primary.EndPoint);
        await Waits.UntilAsync(() => primary.IsProtected && secondary.IsProtected, seconds: 20);

        // More keys: new primary chunks reach the secondary as region records.
        for (int i = Keys; i < 2 * Keys; i++)
        {
            await client.SetAsync(Key(i), Value(i, 1));
        }

        Assert.True(primary.Store.Regions.Count > chunksBeforeJoin, "no chunk registered after the join");
        Assert.True(await client.WaitForSecondaryAsync());
        await Waits.UntilAsync(() => secondary.Lsn == primary.Lsn);

        TranslationSnapshot translation = secondary.Store.Translation!.Current;
        Assert.Equal(primary.Store.Regions.Select(r => r.RKey).Order(), translation.PrimaryRKeys.Order());
        Assert.True(translation.CountDistinctDeltas() >= 4);

        // The chunks listed at the join are mirrored last to first: another order than the primary's. The first one
        // met that is one slab long (as the secondary's own first chunk) mirrors onto that chunk, index 0, so that the
        // secondary holds no memory its primary does not.
        int[] localOrder = [.. primary.Store.Regions.Take(chunksBeforeJoin).Select(r => IndexOf(secondary.Store, translation.LocalRKeyOf(r.RKey)))];
        Assert.Single(localOrder, 0);
        int[] mirroredAfter = [.. localOrder.Where(i => i != 0)];
        Assert.Equal(mirroredAfter.OrderDescending(), mirroredAfter);
        Assert.Equal(primary.Store.GetStats().ChunkBytes, secondary.Store.GetStats().ChunkBytes);
        PairAudit.AssertIdentical(primary.Store, secondary.Store, Enumerable.Range(0, 2 * Keys).Select(Key));

        // The primary fails: reads go on through FAILOVER_READ, then through one rewrite of every primary rkey.
        network.Crash(PairFixture.PrimaryAddress);
        for (int i = 0; i < 2 * Keys; i++)
        {
            Assert.Equal(Value(i, i < Keys ? 0 : 1), await client.GetAsync(Key(i)));
        }

        await Waits.UntilAsync(() => client.Path == ClientPath.Secondary);
        Assert.Equal(1, client.Stats.TableRewrites);
        Assert.True(client.Stats.RewrittenPointers >= 2 * Keys, $"{client.Stats.RewrittenPointers} pointers rewritten");
        long failoverReads = client.Stats.FailoverReads;
        for (int i = 0; i < 2 * Keys; i++)
        {
            Assert.Equal(Value(i, i < Keys ? 0 : 1), await client.GetAsync(Key(i)));
        }

        Assert.Equal(failoverReads, client.Stats.FailoverReads);
    }

    private static int IndexOf(StoreEngine store, uint rkey) => store.Memory.IndexOf(rkey);

    private static string Key(int i) => $"chunked-{i}";

    private static byte[] Value(int i, int round)
    {
        var value = new byte[Sizes[i % Sizes.Length]];
        Encoding.ASCII.GetBytes($"{i}:{round}:").CopyTo(value, 0);
        return value;
    }
}
