using MirrorKv.Client;
using MirrorKv.Memory;
using MirrorKv.Protocol;
using MirrorKv.Protocol.Tests;

namespace MirrorKv.Adapter.Tests.Conformance;

/// <summary>docs/protocol.md, TRANSLATION: when distinct slab deltas appear, and what they are.</summary>
public class TranslationDeltaTests
{
    private const string Formula = "`delta_k = (local base + local length − (k + 1) × slab size) − (primary base + k × slab size)`";

    [Fact]
    public async Task Translation_OneSlab_OneDelta_TwoSlabs_TwoDeltas_AsTheFormulaGives()
    {
        Assert.Contains(Formula, ProtocolDocument.Text, StringComparison.Ordinal);

        // Both slabs in the primary's first region (a chunk of 16 slabs), as the formula speaks of one region.
        await using PairFixture pair = await PairFixture.StartAsync(store: PairFixture.SmallStore with { FirstChunkSize = 1UL << 20 });
        MirrorKvClient client = await pair.ConnectClientAsync();

        await client.SetAsync("small", new byte[10]);
        SlabMapping[] one = await TranslationAsync(pair);
        Assert.Equal([Expected(pair, 0)], one);

        // Another size class takes a second slab on each node.
        await client.SetAsync("large", new byte[20_000]);
        SlabMapping[] two = await TranslationAsync(pair);
        Assert.Equal([Expected(pair, 0), Expected(pair, 1)], two);
        Assert.NotEqual(two[0].Delta, two[1].Delta);
    }

    // The primary's first chunk and the secondary's chunk that mirrors it, its slabs taken from the top down.
    private static SlabMapping Expected(PairFixture pair, int k)
    {
        MemoryRegion primary = pair.Primary.Store.Regions[0];
        uint localRKey = pair.Secondary.Store.Translation!.Current.LocalRKeyOf(primary.RKey);
        MemoryRegion local = pair.Secondary.Store.Regions.Single(r => r.RKey == localRKey);
        ulong slab = (ulong)pair.Primary.Store.Options.SlabSize;
        return new SlabMapping(primary.BaseAddress + ((ulong)k * slab), local.BaseAddress + local.Length - ((ulong)(k + 1) * slab));
    }

    private static async Task<SlabMapping[]> TranslationAsync(PairFixture pair)
    {
        await using NodeChannel channel = await NodeChannel.ConnectAsync(pair.Network.CreateTransport(PairFixture.ClientAddress), pair.Secondary.EndPoint, new NodeChannelOptions(null, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2)), _ => { }, CancellationToken.None);
        PendingOperation op = channel.Rent();
        try
        {
            channel.PostTranslation(op, pair.Primary.Store.Regions[0].RKey);
            await op.AsValueTask();
            Assert.Equal(WireStatus.Ok, op.Status);
            Assert.Equal(WireStatus.Ok, TranslationMessages.TryReadReply(op.Payload, out _, out _, out SlabMapping[] mappings));
            return mappings;
        }
        finally
        {
            channel.Return(op);
        }
    }
}
