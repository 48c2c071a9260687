using System.Text;
using CsCheck;
using MirrorKv.Entries;
using MirrorKv.Memory;

namespace MirrorKv.Store.Tests;

/// <summary>
/// Large entries (values over a slab): the limit, one slot over slabs in a row, pointers to deleted and moved
/// large entries, eviction around them, and their mirroring on a replica with one delta per span.
/// </summary>
public class LargeValueTests
{
    private static readonly StoreOptions Small = new() { MaxMemory = 4UL << 20, SlabSize = 64 << 10 };

    [Fact]
    public void DefaultLimit_16MiBValueIsStored_AndOneByteOverIsRefused_WithNothingLost()
    {
        Assert.Equal(16 << 20, StoreOptions.Default.EffectiveMaxValueLength);
        using var store = new StoreEngine();
        byte[] value = Random(16 << 20, seed: 1);
        StoreWriteResult w = store.Write("big"u8, value);
        Assert.Equal(StoreStatus.Ok, w.Status);
        Assert.True(w.Pointer.Length > (uint)store.Options.SlabSize);
        Assert.Equal(value, ReadValue(store, w.Pointer, "big"));

        Assert.Equal(StoreStatus.ValueTooLarge, store.Write("big"u8, new byte[(16 << 20) + 1]).Status);
        Assert.Equal(StoreStatus.ValueTooLarge, store.Write("other"u8, new byte[(16 << 20) + 1]).Status);
        Assert.True(store.TryLookup("big"u8, out RemotePointer now, out _));
        Assert.Equal(w.Pointer, now);
        Assert.Equal(value, ReadValue(store, now, "big"));
        Assert.Equal(1, store.GetStats().Entries);
    }

    [Fact]
    public void LargeEntry_TakesSlabsInARow_AndDeleteGivesThemAllBack()
    {
        using var store = new StoreEngine(Small with { FirstChunkSize = 1UL << 20 });
        byte[] value = Random(200_000, seed: 2);
        StoreWriteResult w = store.Write("a"u8, value);
        Assert.Equal((uint)SizeClassTable.SpanSlotSize(EntryLayout.EntrySize(1, value.Length)), w.Pointer.Length);
        Assert.Equal(4, store.GetStats().ClaimedSlabs);
        Assert.Equal(WriteKind.UpdatedInPlace, store.Write("a"u8, Random(190_000, seed: 3)).Kind);

        store.Delete("a"u8);
        Assert.Equal(0, store.GetStats().ClaimedSlabs);
        Assert.Equal(EntryStatus.Deleted, EntryValidator.Validate(store.SpanAt(w.Pointer), "a"u8, 0, out _));
        Assert.True(store.SpanAt(w.Pointer).IndexOfAnyExcept((byte)0) < 0, "a deleted span is scrubbed");
    }

    [Fact]
    public void PointersToDeletedAndMovedLargeEntries_NeverYieldAnotherKeysValue()
    {
        Gen.Int[0, int.MaxValue].Sample(seed =>
        {
            using var store = new StoreEngine(Small);
            var random = new Random(seed);
            var model = new Dictionary<string, byte[]>();
            var pointers = new List<(string Key, RemotePointer Pointer)>();
            for (int op = 0; op < 300; op++)
            {
                string key = $"k{random.Next(24)}";
                if (random.Next(4) == 0)
                {
                    store.Delete(Bytes(key));
                    model.Remove(key);
                    continue;
                }

                byte[] value = Random(random.Next(3) == 0 ? random.Next(70_000, 400_000) : random.Next(1, 3000), random.Next());
                StoreWriteResult w = store.Write(Bytes(key), value);
                Assert.True(w.Status is StoreStatus.Ok or StoreStatus.OutOfMemory, w.Status.ToString());
                if (w.Status == StoreStatus.Ok)
                {
                    model[key] = value;
                    pointers.Add((key, w.Pointer));
                }

                // Every pointer ever handed out: its key's current value, or no entry; never another key's value.
                foreach ((string k, RemotePointer p) in pointers)
                {
                    if (EntryValidator.Validate(store.SpanAt(p), Bytes(k), 0, out ValidatedEntry entry) == EntryStatus.Ok)
                    {
                        Assert.True(model.TryGetValue(k, out byte[]? current), $"{k} is deleted, yet a stale pointer validated");
                        Assert.Equal(current, entry.ValueOf(store.SpanAt(p)).ToArray());
                    }
                }
            }

            foreach ((string key, byte[] value) in model)
            {
                Assert.True(store.TryLookup(Bytes(key), out RemotePointer p, out _));
                Assert.Equal(value, ReadValue(store, p, key));
            }
        }, iter: 25);
    }

    [Fact]
    public void NoEviction_FullOfSmallValues_LargeWriteIsOutOfMemory_AndNothingIsLost()
    {
        // One chunk: a span lies inside one chunk, and a store grown in chunks of one, one, two... slabs has none of ten.
        using var store = new StoreEngine(Small with { MaxMemory = 1UL << 20, FirstChunkSize = 1UL << 20 });
        int written = 0;
        while (store.Write(Bytes($"s{written}"), new byte[500]).Status == StoreStatus.Ok)
        {
            written++;
        }

        Assert.Equal(StoreStatus.OutOfMemory, store.Write("big"u8, new byte[200_000]).Status);
        Assert.Equal(written, store.GetStats().Entries);

        // Deleting small values empties slabs, which a large value then takes over.
        for (int i = 0; i < written; i++)
        {
            store.Delete(Bytes($"s{i}"));
        }

        Assert.Equal(StoreStatus.Ok, store.Write("big"u8, new byte[600_000]).Status);
    }

    [Theory]
    [InlineData(EvictionPolicy.AllKeysLru)]
    [InlineData(EvictionPolicy.AllKeysLfu)]
    public void Eviction_LargeWriteEmptiesAWindow_AndTheNextOneEvictsIt(EvictionPolicy policy)
    {
        using var store = new StoreEngine(Small with { MaxMemory = 1UL << 20, FirstChunkSize = 1UL << 20, Eviction = policy });
        for (int i = 0; i < 4000; i++)
        {
            Assert.Equal(StoreStatus.Ok, store.Write(Bytes($"s{i}"), new byte[500]).Status);
        }

        long before = store.Evictions;
        byte[] big = Random(300_000, seed: 4);
        StoreWriteResult w = store.Write("big"u8, big);
        Assert.Equal(StoreStatus.Ok, w.Status);
        Assert.True(store.Evictions > before);
        Assert.Equal(big, ReadValue(store, w.Pointer, "big"));

        // The cheapest window for the next large value is the first one's span (one entry against slabs of many).
        byte[] big2 = Random(300_000, seed: 5);
        StoreWriteResult w2 = store.Write("big2"u8, big2);
        Assert.Equal(StoreStatus.Ok, w2.Status);
        Assert.False(store.TryLookup("big"u8, out _, out _));
        Assert.Equal(big2, ReadValue(store, w2.Pointer, "big2"));
        Assert.NotEqual(EntryStatus.Ok, EntryValidator.Validate(store.SpanAt(w.Pointer), "big"u8, 0, out _));
        for (int i = 0; i < 4000; i++)
        {
            if (store.TryLookup(Bytes($"s{i}"), out RemotePointer p, out _))
            {
                Assert.Equal(500, ReadValue(store, p, $"s{i}").Length);
            }
        }
    }

    [Fact]
    public void Replica_MirrorsSpansInARow_CompactsWhenFragmented_AndTakesOver()
    {
        long compactions = 0;
        Gen.Int[0, int.MaxValue].Sample(seed =>
        {
            using var pair = new ReplicaPair(Small with { MaxMemory = 2UL << 20, FirstChunkSize = 2UL << 20 });
            var random = new Random(seed);
            var model = new Dictionary<string, byte[]>();
            for (int op = 0; op < 200; op++)
            {
                string key = $"k{random.Next(30)}";
                if (random.Next(4) == 0)
                {
                    pair.Primary.Delete(Bytes(key));
                    model.Remove(key);
                }
                else
                {
                    byte[] value = Random(random.Next(3) == 0 ? random.Next(70_000, 300_000) : random.Next(1, 5000), random.Next());
                    if (pair.Primary.Write(Bytes(key), value).Status == StoreStatus.Ok)
                    {
                        model[key] = value;
                    }
                }

                pair.ApplyNew();
            }

            pair.AssertMirrors(model);
            Interlocked.Add(ref compactions, pair.Replica.MirrorCompactions);

            pair.Replica.Promote();
            byte[] after = Random(150_000, seed);

            // The promoted replica holds exactly its primary's memory (its own first chunk mirrors the primary's), so
            // it is as full as the primary was: make room as a client of a full noeviction store would.
            StoreStatus status;
            while ((status = pair.Replica.Write("after"u8, after).Status) == StoreStatus.OutOfMemory && model.Count > 0)
            {
                string victim = model.Keys.First();
                Assert.Equal(StoreStatus.Ok, pair.Replica.Delete(Bytes(victim)).Status);
                model.Remove(victim);
            }

            Assert.Equal(StoreStatus.Ok, status);
            foreach ((string key, byte[] value) in model.Append(new("after", after)))
            {
                Assert.True(pair.Replica.TryLookup(Bytes(key), out RemotePointer p, out _), key);
                Assert.Equal(value, ReadValue(pair.Replica, p, key));
            }
        }, iter: 30);
        Assert.True(compactions > 0, "no mirror chunk was ever compacted: the path is untested");
    }

    [Fact]
    public void SlabCopy_OfASpan_IsAppliedAsOneSlot()
    {
        using var pair = new ReplicaPair(Small with { FirstChunkSize = 2UL << 20 });
        byte[] value = Random(250_000, seed: 5);
        pair.Primary.Write("small"u8, "v"u8);
        pair.Primary.Write("big"u8, value);
        foreach ((int slab, int slotSize) in pair.Primary.GetClaimedSlabLayout())
        {
            ulong offset = (ulong)slab * (ulong)Small.SlabSize;
            int length = Math.Max(slotSize, Small.SlabSize);
            RemotePointer at = pair.Primary.Memory.PointerAt(offset, (uint)length);
            SlabCopyResult result = pair.Replica.ApplySlabCopy(at.RKey, at.Address, slotSize, pair.Primary.SpanAt(at));
            Assert.Equal(ApplyStatus.Applied, result.Status);
        }

        Assert.True(pair.Replica.TryLookup("big"u8, out RemotePointer local, out _));
        Assert.Equal(value, ReadValue(pair.Replica, local, "big"));
        Assert.True(pair.Primary.TryLookup("big"u8, out RemotePointer primary, out _));
        Assert.Equal(local, pair.Replica.Translation!.Translate(primary));
    }

    private static byte[] ReadValue(StoreEngine store, RemotePointer pointer, string key)
    {
        Span<byte> slot = store.SpanAt(pointer);
        Assert.Equal(EntryStatus.Ok, EntryValidator.Validate(slot, Bytes(key), 0, out ValidatedEntry entry));
        return entry.ValueOf(slot).ToArray();
    }

    private static byte[] Random(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static byte[] Bytes(string s) => Encoding.UTF8.GetBytes(s);

    // A primary and a replica (slabs top-down), records applied in order as the stream would.
    private sealed class ReplicaPair : IDisposable, IChangeSink
    {
        private readonly List<Action<StoreEngine>> _records = [];
        private int _applied;

        public ReplicaPair(StoreOptions options)
        {
            Primary = new StoreEngine(options, changes: this);
            Replica = new StoreEngine(options with { SlabOrder = SlabOrder.Descending });
            foreach (MemoryRegion region in Primary.Regions)
            {
                Replica.MirrorPrimaryRegion(region.RKey, region.BaseAddress, region.Length);
            }
        }

        public StoreEngine Primary { get; }

        public StoreEngine Replica { get; }

        public ulong Append(in SlotChange change)
        {
            var (slot, version, flags, key, value) = (change.Slot, change.Version, change.Flags, change.Key.ToArray(), change.Value.ToArray());
            _records.Add(r => Assert.Equal(ApplyStatus.Applied, r.Apply(new SlotChange(slot, version, flags, key, value))));
            return 0;
        }

        public void AppendSlabRelease(in RemotePointer slab)
        {
            RemotePointer s = slab;
            _records.Add(r => Assert.Equal(ApplyStatus.Applied, r.ApplySlabRelease(s)));
        }

        public void AppendRegion(in RemotePointer region)
        {
            RemotePointer s = region;
            _records.Add(r => Assert.Equal(ApplyStatus.Applied, r.ApplyRegion(s)));
        }

        public void ApplyNew()
        {
            for (; _applied < _records.Count; _applied++)
            {
                _records[_applied](Replica);
            }
        }

        public void AssertMirrors(Dictionary<string, byte[]> model)
        {
            TranslationSnapshot translation = Replica.Translation!.Current;
            Assert.Equal(model.Count, Replica.GetStats().Entries);
            foreach ((string key, byte[] value) in model)
            {
                Assert.True(Primary.TryLookup(Bytes(key), out RemotePointer primary, out _));
                RemotePointer local = translation.Translate(primary);
                Assert.Equal(value, ReadValue(Replica, local, key));
            }
        }

        public void Dispose()
        {
            Primary.Dispose();
            Replica.Dispose();
        }
    }
}
