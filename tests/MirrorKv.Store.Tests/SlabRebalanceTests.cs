using System.Text;
using MirrorKv.Entries;
using MirrorKv.Memory;

namespace MirrorKv.Store.Tests;

/// <summary>
/// Slab rebalancing in the store engine: a slab emptied by one size class is taken over by another once the
/// pool is empty (no calcification), and a one-sided reader holding a pointer into the moved slab never
/// accepts what it finds there.
/// </summary>
public sealed class SlabRebalanceTests
{
    // The calcification case of issue 16: a 16 MiB limit with 1 MiB slabs (the index takes its share, so the
    // store fills fewer than 16 slabs: the tests count what it filled).
    private static readonly StoreOptions Sixteen = new() { MaxMemory = 16UL << 20, SlabSize = 1 << 20 };

    [Fact]
    public void Write_LargeValueAfterSmallValuesFilledTheStoreAndWereDeleted_Succeeds()
    {
        using var store = new StoreEngine(Sixteen);
        int filled = FillUntilFull(store, "small", 100);
        Assert.InRange(store.GetStats().ClaimedSlabs, 14, 16);
        Assert.True(store.GetStats().MemoryUsed <= (long)Sixteen.MaxMemory, "over the limit");
        for (int i = 0; i < filled; i++)
        {
            Assert.Equal(StoreStatus.Ok, store.Delete(Key("small", i)).Status);
        }

        Assert.Equal(0, store.GetStats().Entries);
        StoreWriteResult large = store.Write("large"u8, new byte[1000]);

        Assert.Equal(StoreStatus.Ok, large.Status);
        Assert.Equal(1, store.SlabsMoved);
    }

    [Fact]
    public void Write_AfterDeletingEverySmallValue_RefillsWholeRegionWithLargeValues()
    {
        using var store = new StoreEngine(Sixteen);
        int small = FillUntilFull(store, "small", 100);
        int slabs = store.GetStats().ClaimedSlabs;
        for (int i = 0; i < small; i++)
        {
            store.Delete(Key("small", i));
        }

        int large = FillUntilFull(store, "large", 1000);

        // Every slab moved to the 1,000 B class: as many entries as a fresh store of that class holds in as many
        // slabs. (A fresh one may hold a slab more: its index, with fewer keys, leaves room for it.)
        using var fresh = new StoreEngine(Sixteen);
        int freshLarge = FillUntilFull(fresh, "large", 1000);
        Assert.Equal(freshLarge / fresh.GetStats().ClaimedSlabs * slabs, large);
        Assert.Equal(slabs, store.GetStats().ClaimedSlabs);
        Assert.Equal(slabs, store.SlabsMoved);
        Assert.Equal(0, fresh.SlabsMoved);
    }

    [Fact]
    public void Write_ClassWithAPartlyUsedSlab_DoesNotTakeItOver()
    {
        using var store = new StoreEngine(Sixteen);
        int small = FillUntilFull(store, "small", 100);
        int slabs = store.GetStats().ClaimedSlabs;

        // One live entry keeps its slab: only the other slabs, emptied, may move.
        for (int i = 1; i < small; i++)
        {
            store.Delete(Key("small", i));
        }

        FillUntilFull(store, "large", 1000);

        Assert.Equal(slabs - 1, store.SlabsMoved);
        Assert.True(store.TryLookup(Key("small", 0), out RemotePointer kept, out _));
        Assert.Equal(EntryStatus.Ok, Read(store, kept, Key("small", 0)).Status);
    }

    [Fact]
    public void StalePointers_IntoSlabsThatChangedClass_NeverValidate_AndLiveKeysKeepTheirValues()
    {
        // Pointers of a 112 B class into slabs that now hold 1,024 B slots of the same keys: a stale pointer lands
        // on zeros, on a new header (slot size differs), or inside a new entry; none may be accepted.
        var options = new StoreOptions { MaxMemory = 1UL << 20, SlabSize = 64 << 10 };
        using var store = new StoreEngine(options);
        var stale = new List<(byte[] Key, RemotePointer Pointer, ulong Version)>();
        for (int i = 0; ; i++)
        {
            StoreWriteResult w = store.Write(Key("k", i), Value(i, 80));
            if (w.Status == StoreStatus.OutOfMemory)
            {
                break;
            }

            stale.Add((Key("k", i), w.Pointer, w.Version));
        }

        int slabs = store.GetStats().ClaimedSlabs;
        foreach ((byte[] key, _, _) in stale)
        {
            store.Delete(key);
        }

        var current = new Dictionary<string, byte[]>();
        for (int i = 0; i < stale.Count; i++)
        {
            byte[] value = Value(-i, 1000 - 28 - 8);
            if (store.Write(Key("k", i), value).Status != StoreStatus.Ok)
            {
                break;
            }

            current[$"k-{i}"] = value;
        }

        Assert.True(store.SlabsMoved >= slabs - 1, $"only {store.SlabsMoved} of {slabs} slabs moved");
        int blank = 0, corrupt = 0;
        foreach ((byte[] key, RemotePointer pointer, ulong version) in stale)
        {
            ReadOnlySpan<byte> copy = store.SpanAt(pointer);
            EntryStatus status = EntryValidator.Validate(copy, key, version, out _);
            Assert.NotEqual(EntryStatus.Ok, status);
            Assert.False(EntryValidator.TryParse(copy, out _, out _, out _, out _), "an entry of the old class survived the move");
            blank += status == EntryStatus.Deleted ? 1 : 0;
            corrupt += status is EntryStatus.Corrupt or EntryStatus.Torn ? 1 : 0;
        }

        // Both outcomes occur: stale boundaries on scrubbed bytes and on bytes of the new class.
        Assert.True(blank > 0 && corrupt > 0, $"blank {blank}, corrupt {corrupt}");
        foreach ((string key, byte[] value) in current)
        {
            Assert.True(store.TryLookup(Encoding.UTF8.GetBytes(key), out RemotePointer pointer, out _));
            (EntryStatus status, byte[] read) = Read(store, pointer, Encoding.UTF8.GetBytes(key));
            Assert.Equal(EntryStatus.Ok, status);
            Assert.Equal(value, read);
        }
    }

    [Fact]
    public void Write_UntilFullAfterRelocations_ReportsOutOfMemoryWithoutLosingEntries()
    {
        // Phases of one size range each, most of whose keys are deleted when the next begins: slabs empty out
        // while a few keep one survivor; out of memory in the middle of the moves leaves every key readable.
        // Four slabs of 64 KiB and the index fit.
        using var store = new StoreEngine(new StoreOptions { MaxMemory = 320 << 10, SlabSize = 64 << 10 });
        var model = new Dictionary<int, byte[]>();
        var random = new Random(5);
        for (int phase = 0; phase < 9; phase++)
        {
            for (int op = 0; op < 400; op++)
            {
                int k = (phase * 1000) + random.Next(150);
                byte[] value = Value(op, (phase % 3) switch { 0 => random.Next(1, 60), 1 => random.Next(300, 500), _ => random.Next(1500, 3000) });
                StoreStatus status = store.Write(Key("k", k), value).Status;
                Assert.True(status is StoreStatus.Ok or StoreStatus.OutOfMemory);
                if (status == StoreStatus.Ok)
                {
                    model[k] = value;
                }
            }

            foreach (int k in model.Keys.Where(k => k / 1000 == phase && random.Next(10) != 0).ToList())
            {
                Assert.Equal(StoreStatus.Ok, store.Delete(Key("k", k)).Status);
                model.Remove(k);
            }
        }

        Assert.True(store.SlabsMoved > 0, "no slab moved");
        Assert.Equal(model.Count, store.GetStats().Entries);
        foreach ((int k, byte[] value) in model)
        {
            Assert.True(store.TryLookup(Key("k", k), out RemotePointer pointer, out _));
            (EntryStatus status, byte[] read) = Read(store, pointer, Key("k", k));
            Assert.Equal(EntryStatus.Ok, status);
            Assert.Equal(value, read);
        }
    }

    private static int FillUntilFull(StoreEngine store, string prefix, int valueLength)
    {
        for (int i = 0; ; i++)
        {
            StoreStatus status = store.Write(Key(prefix, i), new byte[valueLength]).Status;
            if (status == StoreStatus.OutOfMemory)
            {
                return i;
            }

            Assert.Equal(StoreStatus.Ok, status);
        }
    }

    private static (EntryStatus Status, byte[] Value) Read(StoreEngine store, RemotePointer pointer, byte[] key)
    {
        ReadOnlySpan<byte> copy = store.SpanAt(pointer);
        EntryStatus status = EntryValidator.Validate(copy, key, 0, out ValidatedEntry entry);
        return (status, status == EntryStatus.Ok ? entry.ValueOf(copy).ToArray() : []);
    }

    private static byte[] Key(string prefix, int i) => Encoding.UTF8.GetBytes($"{prefix}-{i}");

    private static byte[] Value(int seed, int length)
    {
        var value = new byte[length];
        new Random(seed).NextBytes(value);
        return value;
    }
}
