using CsCheck;

namespace MirrorKv.Memory.Tests;

/// <summary>
/// The per-slab translation: unit cases, immutable snapshots, and properties over random slab layouts with
/// several distinct deltas, checked end to end on real memory. The checker itself is shown able to fail.
/// </summary>
public class SlabTranslationTests
{
    private const int Slab = 4096;
    private const uint PrimaryRKey = 0x1111;
    private const uint LocalRKey = 0x2222;
    private const ulong PrimaryBase = 0x7f00_0000_0000;

    [Fact]
    public void TryTranslate_EachFailure_IsNamed()
    {
        var table = new TranslationTable(Slab);
        table.MapRegion(PrimaryRKey, PrimaryBase, 4 * Slab, LocalRKey);
        table.MapSlab(PrimaryRKey, PrimaryBase + Slab, 0x5000_0000);
        TranslationSnapshot s = table.Current;

        Assert.Equal(TranslationStatus.Ok, s.TryTranslate(new(PrimaryRKey, PrimaryBase + Slab + 100, 50), out RemotePointer local));
        Assert.Equal(new RemotePointer(LocalRKey, 0x5000_0000 + 100, 50), local);
        Assert.Equal(TranslationStatus.UnknownRegion, s.TryTranslate(new(0x9999, PrimaryBase, 1), out _));
        Assert.Equal(TranslationStatus.OutsideRegion, s.TryTranslate(new(PrimaryRKey, PrimaryBase - 1, 1), out _));
        Assert.Equal(TranslationStatus.OutsideRegion, s.TryTranslate(new(PrimaryRKey, PrimaryBase + (4 * Slab), 1), out _));
        Assert.Equal(TranslationStatus.CrossesSlab, s.TryTranslate(new(PrimaryRKey, PrimaryBase + (2 * Slab) - 10, 20), out _));
        Assert.Equal(TranslationStatus.UnknownSlab, s.TryTranslate(new(PrimaryRKey, PrimaryBase, 1), out _));
        Assert.Equal(TranslationStatus.ZeroLength, s.TryTranslate(new(PrimaryRKey, PrimaryBase + Slab, 0), out _));
        TranslationException e = Assert.Throws<TranslationException>(() => s.Translate(new(PrimaryRKey, PrimaryBase, 1)));
        Assert.Equal(TranslationStatus.UnknownSlab, e.Status);
        Assert.Contains("no record has landed", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnmapSlab_AfterASlabMove_ForgetsIt_AndFreesBothSidesForNewMappings()
    {
        var table = new TranslationTable(Slab);
        table.MapRegion(PrimaryRKey, PrimaryBase, 4 * Slab, LocalRKey);
        table.MapSlab(PrimaryRKey, PrimaryBase + Slab, 0x5000_0000);
        TranslationSnapshot before = table.Current;

        table.UnmapSlab(PrimaryRKey, PrimaryBase + Slab);
        table.UnmapSlab(PrimaryRKey, PrimaryBase + Slab);

        Assert.Equal(TranslationStatus.UnknownSlab, table.Current.TryTranslate(new(PrimaryRKey, PrimaryBase + Slab, 8), out _));
        Assert.Equal(TranslationStatus.Ok, before.TryTranslate(new(PrimaryRKey, PrimaryBase + Slab, 8), out _));

        // The primary slab maps afresh elsewhere (a new delta), and the local slab may mirror another one.
        table.MapSlab(PrimaryRKey, PrimaryBase + Slab, 0x6000_0000);
        table.MapSlab(PrimaryRKey, PrimaryBase, 0x5000_0000);
        Assert.Equal(new RemotePointer(LocalRKey, 0x6000_0000 + 8, 8), table.Translate(new(PrimaryRKey, PrimaryBase + Slab + 8, 8)));
        Assert.Throws<ArgumentOutOfRangeException>(() => table.UnmapSlab(PrimaryRKey, PrimaryBase + 8));
        Assert.Throws<InvalidOperationException>(() => table.UnmapSlab(0x9999, PrimaryBase));
    }

    [Fact]
    public void MapSlab_Conflicts_AreRefused_SameMappingIsIdempotent()
    {
        var table = new TranslationTable(Slab);
        Assert.Throws<InvalidOperationException>(() => table.MapSlab(PrimaryRKey, PrimaryBase, 0x5000_0000));
        table.MapRegion(PrimaryRKey, PrimaryBase, 4 * Slab, LocalRKey);
        table.MapRegion(PrimaryRKey, PrimaryBase, 4 * Slab, LocalRKey);
        Assert.Throws<InvalidOperationException>(() => table.MapRegion(PrimaryRKey, PrimaryBase + Slab, 4 * Slab, LocalRKey));
        Assert.Throws<ArgumentOutOfRangeException>(() => table.MapRegion(0x3333, PrimaryBase, Slab + 1, LocalRKey));

        table.MapSlab(PrimaryRKey, PrimaryBase, 0x5000_0000);
        table.MapSlab(PrimaryRKey, PrimaryBase, 0x5000_0000);
        Assert.Throws<InvalidOperationException>(() => table.MapSlab(PrimaryRKey, PrimaryBase, 0x6000_0000));
        Assert.Throws<InvalidOperationException>(() => table.MapSlab(PrimaryRKey, PrimaryBase + Slab, 0x5000_0000));
        Assert.Throws<ArgumentOutOfRangeException>(() => table.MapSlab(PrimaryRKey, PrimaryBase + 8, 0x7000_0000));
        Assert.Throws<ArgumentOutOfRangeException>(() => table.MapSlab(PrimaryRKey, PrimaryBase + (4 * Slab), 0x7000_0000));
        Assert.Throws<ArgumentOutOfRangeException>(() => table.MapSlab(PrimaryRKey, PrimaryBase + Slab, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TranslationTable(3000));
    }

    [Fact]
    public void Snapshot_TakenBeforeMapSlab_NeverChanges()
    {
        var table = new TranslationTable(Slab);
        table.MapRegion(PrimaryRKey, PrimaryBase, 2 * Slab, LocalRKey);
        TranslationSnapshot before = table.Current;
        table.MapSlab(PrimaryRKey, PrimaryBase, 0x5000_0000);

        Assert.Equal(TranslationStatus.UnknownSlab, before.TryTranslate(new(PrimaryRKey, PrimaryBase, 8), out _));
        Assert.Equal(TranslationStatus.Ok, table.Current.TryTranslate(new(PrimaryRKey, PrimaryBase, 8), out _));
        Assert.Empty(before.GetMappings(PrimaryRKey));
        Assert.Equal([new SlabMapping(PrimaryBase, 0x5000_0000)], table.Current.GetMappings(PrimaryRKey));
    }

    [Fact]
    public void Translate_RandomLayouts_MatchesIndependentComputation()
    {
        Gen.Select(Gen.Int[2, 64], Gen.Int[12, 20], Gen.Int[0, int.MaxValue]).Sample((slabs, shift, seed) =>
        {
            int slabSize = 1 << shift;
            Layout layout = Layout.Random(slabs, slabSize, seed);
            Assert.True(layout.DistinctDeltas >= 2);
            var random = new Random(seed);
            for (int i = 0; i < 50; i++)
            {
                int slab = random.Next(slabs);
                int offset = random.Next(slabSize);
                uint length = (uint)random.Next(1, slabSize - offset + 1);
                var primary = new RemotePointer(PrimaryRKey, layout.PrimaryBase + ((ulong)slab * (ulong)slabSize) + (ulong)offset, length);
                ulong expected = layout.LocalBase + ((ulong)layout.LocalSlabOf[slab] * (ulong)slabSize) + (ulong)offset;
                Assert.Equal(new RemotePointer(LocalRKey, expected, length), layout.Table.Translate(primary));
            }
        }, iter: 200);
    }

    [Fact]
    public void Translate_OnRealMemory_ReadsPrimaryBytesAtMirror()
    {
        Gen.Int[0, int.MaxValue].Sample(seed => Assert.Equal(0, MirrorMismatches(seed, (s, p) => s.Translate(p))), iter: 30);
    }

    [Fact]
    public void Checker_IdentityTranslation_IsCaught()
    {
        Assert.True(MirrorMismatches(1, (_, p) => p) > 0);
        Assert.True(MirrorMismatches(2, (_, p) => p with { RKey = LocalRKeyOfMirror }) > 0);
    }

    [Fact]
    public void Checker_NeighbourSlabsDelta_IsCaught()
    {
        Assert.True(MirrorMismatches(3, (s, p) =>
        {
            // A wrong delta: the one of the next slab up (wrapping), applied to this slab's address.
            ulong slabSize = (ulong)s.SlabSize;
            ulong primarySlab = p.Address - ((p.Address - MirrorPrimaryBase) % slabSize);
            ulong neighbour = MirrorPrimaryBase + ((primarySlab - MirrorPrimaryBase + slabSize) % (slabSize * MirrorSlabs));
            RemotePointer n = s.Translate(new RemotePointer(p.RKey, neighbour, 1));
            return new RemotePointer(n.RKey, (ulong)((long)p.Address + ((long)n.Address - (long)neighbour)), p.Length);
        }) > 0);
    }

    private const int MirrorSlabs = 6;
    private static ulong MirrorPrimaryBase;
    private static uint LocalRKeyOfMirror;

    // Fills a primary region with random bytes, mirrors its slabs into a local region in shuffled order,
    // then reads random pointers through `translate` and counts reads that do not match the primary.
    private static int MirrorMismatches(int seed, Func<TranslationSnapshot, RemotePointer, RemotePointer> translate)
    {
        var random = new Random(seed);
        using var primary = MemoryRegion.Allocate(MirrorSlabs * Slab, AccessFlags.RemoteRead);
        using var local = MemoryRegion.Allocate(MirrorSlabs * Slab, AccessFlags.RemoteRead);
        MirrorPrimaryBase = primary.BaseAddress;
        LocalRKeyOfMirror = local.RKey;
        random.NextBytes(primary.GetSpan(0, (int)primary.Length));
        int[] order = Enumerable.Range(0, MirrorSlabs).Reverse().ToArray();
        random.Shuffle(order.AsSpan(1));
        var table = new TranslationTable(Slab);
        table.MapRegion(primary.RKey, primary.BaseAddress, primary.Length, local.RKey);
        for (int slab = 0; slab < MirrorSlabs; slab++)
        {
            primary.GetSpan((ulong)(slab * Slab), Slab).CopyTo(local.GetSpan((ulong)(order[slab] * Slab), Slab));
            table.MapSlab(primary.RKey, primary.AddressOf((ulong)(slab * Slab)), local.AddressOf((ulong)(order[slab] * Slab)));
        }

        Assert.True(table.Current.CountDistinctDeltas() >= 2);
        var registry = new RegionRegistry();
        registry.Register(local);
        int mismatches = 0;
        for (int i = 0; i < 200; i++)
        {
            int offset = random.Next(MirrorSlabs * Slab);
            uint length = (uint)random.Next(1, Math.Min(256, Slab - (offset % Slab)) + 1);
            var pointer = new RemotePointer(primary.RKey, primary.BaseAddress + (ulong)offset, length);
            RemotePointer translated = translate(table.Current, pointer);
            if (registry.Resolve(translated, AccessFlags.RemoteRead, AccessFlags.RemoteRead, out Span<byte> bytes) != AccessStatus.Ok
                || !bytes.SequenceEqual(primary.GetSpan((ulong)offset, (int)length)))
            {
                mismatches++;
            }
        }

        return mismatches;
    }

    private sealed class Layout
    {
        public required TranslationTable Table { get; init; }

        public required ulong PrimaryBase { get; init; }

        public required ulong LocalBase { get; init; }

        public required int[] LocalSlabOf { get; init; }

        public int DistinctDeltas => Table.Current.CountDistinctDeltas();

        public static Layout Random(int slabs, int slabSize, int seed)
        {
            var random = new Random(seed);
            ulong primaryBase = 0x7f00_0000_0000 + ((ulong)random.Next(1, 1000) * (ulong)slabSize);
            ulong localBase = 0x5500_0000_0000 + ((ulong)random.Next(1, 1000) * 4096);
            int[] order = Enumerable.Range(0, slabs).ToArray();
            random.Shuffle(order);
            if (order.SequenceEqual(Enumerable.Range(0, slabs)))
            {
                Array.Reverse(order);
            }

            var table = new TranslationTable(slabSize);
            table.MapRegion(PrimaryRKey, primaryBase, (ulong)slabs * (ulong)slabSize, LocalRKey);
            for (int slab = 0; slab < slabs; slab++)
            {
                table.MapSlab(PrimaryRKey, primaryBase + ((ulong)slab * (ulong)slabSize), localBase + ((ulong)order[slab] * (ulong)slabSize));
            }

            return new Layout { Table = table, PrimaryBase = primaryBase, LocalBase = localBase, LocalSlabOf = order };
        }
    }
}
