using MirrorKv.Entries;
using MirrorKv.Memory;

namespace MirrorKv.Store.Tests;

/// <summary>
/// Memory on demand: a store starts with one slab registered, registers chunks (regions of their own) as it
/// fills, never passes <see cref="StoreOptions.MaxMemory"/> (chunks, index and access table counted), and only
/// at the limit does it evict or refuse.
/// </summary>
public sealed class ChunkGrowthTests
{
    private const int Slab = 64 << 10;

    [Fact]
    public void NewStore_HoldsOneSlabRegistered_WhateverTheLimit()
    {
        var registry = new RegionRegistry();
        using var store = new StoreEngine(new StoreOptions { MaxMemory = 1UL << 30, SlabSize = Slab }, registry: registry);

        Assert.Single(store.Regions);
        Assert.Equal((ulong)Slab, store.Memory.Length);
        Assert.Equal(store.Regions, registry.Regions);
        Assert.True(store.MemoryUsed < 2 * Slab);
    }

    [Fact]
    public void Write_UntilFull_RegistersDoublingChunks_UpToTheLimit_ThenRefuses()
    {
        // Tiny entries, so that the index is a large part of the limit and must be counted right.
        var options = new StoreOptions { MaxMemory = 4UL << 20, SlabSize = Slab };
        var registry = new RegionRegistry();
        using var store = new StoreEngine(options, registry: registry);
        int written = 0;
        while (store.Write(Key(written), [1, 2, 3, 4]).Status == StoreStatus.Ok)
        {
            Assert.True(store.MemoryUsed <= (long)options.MaxMemory, $"{store.MemoryUsed} bytes used after {written} writes");
            written++;
        }

        StoreStats stats = store.GetStats();
        Assert.Equal(StoreStatus.OutOfMemory, store.Write(Key(written), [1]).Status);
        Assert.True(stats.Chunks >= 5, $"{stats.Chunks} chunks");
        Assert.Equal(stats.Chunks, registry.Regions.Count);

        // One slab, one slab, then as large as all before (cut to the limit at the end): memory doubles.
        Assert.Equal((ulong)Slab, store.Regions[0].Length);
        Assert.Equal((ulong)Slab, store.Regions[1].Length);
        for (int i = 2; i < store.Regions.Count - 1; i++)
        {
            Assert.Equal(store.Regions.Take(i).Sum(r => (long)r.Length), (long)store.Regions[i].Length);
        }

        // Full means the limit, not the first chunk: less than a slab and the index's next doubling is left.
        Assert.True(stats.MemoryUsed + Slab + stats.IndexBytes > (long)options.MaxMemory, $"full at {stats.MemoryUsed} of {options.MaxMemory}");
        for (int i = 0; i < written; i++)
        {
            Assert.True(store.TryLookup(Key(i), out RemotePointer p, out _), $"key {i}");
            Assert.Equal(EntryStatus.Ok, EntryValidator.Validate(store.SpanAt(p), Key(i), 0, out _));
        }
    }

    [Fact]
    public void Write_UnderLru_EvictsOnlyOnceTheLimitIsReached()
    {
        var options = new StoreOptions { MaxMemory = 4UL << 20, SlabSize = Slab, Eviction = EvictionPolicy.AllKeysLru };
        using var store = new StoreEngine(options);
        var value = new byte[100];
        long usedAtFirstEviction = 0;
        for (int i = 0; i < 100_000; i++)
        {
            Assert.Equal(StoreStatus.Ok, store.Write(Key(i), value).Status);
            if (usedAtFirstEviction == 0 && store.Evictions > 0)
            {
                usedAtFirstEviction = store.MemoryUsed;
            }

            Assert.True(store.MemoryUsed <= (long)options.MaxMemory);
        }

        Assert.True(store.Evictions > 0, "nothing evicted");
        Assert.True(store.GetStats().Chunks >= 5);
        Assert.True(usedAtFirstEviction > (long)options.MaxMemory * 3 / 4, $"evicted at {usedAtFirstEviction} bytes of {options.MaxMemory}");
    }

    [Fact]
    public void Pointers_IntoEveryChunk_ResolveThroughTheirOwnRKey_AndNoOther()
    {
        var registry = new RegionRegistry();
        using var store = new StoreEngine(new StoreOptions { MaxMemory = 2UL << 20, SlabSize = Slab }, registry: registry);
        var pointers = new List<RemotePointer>();
        for (int i = 0; store.Write(Key(i), new byte[200]) is { Status: StoreStatus.Ok } w; i++)
        {
            pointers.Add(w.Pointer);
        }

        Assert.Equal(store.Regions.Count, pointers.Select(p => p.RKey).Distinct().Count());
        foreach (RemotePointer p in pointers)
        {
            Assert.Equal(AccessStatus.Ok, registry.Check(p, AccessFlags.RemoteRead, AccessFlags.RemoteRead, out MemoryRegion? region));
            Assert.Equal(p.RKey, region!.RKey);
            MemoryRegion other = store.Regions.First(r => r.RKey != p.RKey);
            Assert.NotEqual(AccessStatus.Ok, registry.Check(p with { RKey = other.RKey }, AccessFlags.RemoteRead, AccessFlags.RemoteRead, out _));
        }

        // A fenced node withdraws every chunk at once.
        registry.Withdraw();
        Assert.All(pointers, p => Assert.Equal(AccessStatus.UnknownRKey, registry.Check(p, AccessFlags.RemoteRead, AccessFlags.RemoteRead, out _)));
        registry.Restore();
        Assert.All(pointers, p => Assert.Equal(AccessStatus.Ok, registry.Check(p, AccessFlags.RemoteRead, AccessFlags.RemoteRead, out _)));
    }

    [Theory]
    [InlineData(32UL << 10, null, null, "MaxMemory must hold at least one slab")]
    [InlineData(65UL << 30, null, null, "at most 64 GiB")]
    [InlineData(4UL << 20, 96UL << 10, null, "MaxChunkSize must be a positive multiple")]
    [InlineData(64UL << 30, 64UL << 20, null, "registers at most 255")]
    [InlineData(4UL << 20, null, 8UL << 20, "FirstChunkSize must be")]
    [InlineData(4UL << 20, null, 100UL << 10, "FirstChunkSize must be")]
    public void Options_BadMemoryValues_AreRefusedNamingTheOption(ulong maxMemory, ulong? maxChunk, ulong? firstChunk, string expected)
    {
        var options = new StoreOptions { MaxMemory = maxMemory, SlabSize = Slab, MaxChunkSize = maxChunk, FirstChunkSize = firstChunk };
        ArgumentException e = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_DefaultLargestChunk_KeepsANodeUnder255Regions()
    {
        foreach (ulong limit in new[] { 1UL << 20, 256UL << 20, 8UL << 30, 64UL << 30 })
        {
            var options = new StoreOptions { MaxMemory = limit };
            options.Validate();
            Assert.True(options.EffectiveMaxChunkSize >= 64UL << 20 && options.EffectiveMaxChunkSize <= StoreOptions.MaxChunkLimit);
        }
    }

    private static byte[] Key(int i) => System.Text.Encoding.ASCII.GetBytes($"key-{i:D7}");
}
