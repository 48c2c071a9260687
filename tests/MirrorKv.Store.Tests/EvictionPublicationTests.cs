using System.Text;
using MirrorKv.Entries;
using MirrorKv.Memory;

namespace MirrorKv.Store.Tests;

/// <summary>
/// Eviction under publish after replication: every write waits for the secondary's ack, so the store is full of
/// unpublished entries and tombstones. Only published entries are evicted (an unpublished one is a write no reader
/// has seen, whose writer has not heard back), no slab holding one is emptied for another class, a write that
/// evicts takes the evicted slot at once (the eviction's tombstone waits for its ack, the slot does not), and the
/// evicted key's absence stays unpublished until that ack although its slot holds another key by then.
/// </summary>
public sealed class EvictionPublicationTests
{
    // 16 slabs of 16 KiB: 113 slots of 144 bytes per slab, ~1,800 entries of the size used below.
    // Where a pointer lies in the store's memory (its chunks laid end to end), as the engine counts offsets.
    private static ulong OffsetOf(StoreEngine store, RemotePointer pointer) =>
        store.Memory.TryGetOffset(pointer.RKey, pointer.Address, out ulong offset) ? offset : throw new InvalidOperationException($"{pointer} is in no chunk of the store");

    private static readonly StoreOptions Small = new() { MaxMemory = 256UL << 10, SlabSize = 16 << 10, MaxKeyLength = 64 };

    [Theory]
    [InlineData(EvictionPolicy.AllKeysLru)]
    [InlineData(EvictionPolicy.AllKeysLfu)]
    public void Evict_WhileEveryWriteWaits_TakesOnlyPublishedEntries_AndRefusesOnceNoneIsLeft(EvictionPolicy policy)
    {
        var sink = new LsnSink();
        using var store = new StoreEngine(Small with { Eviction = policy }, changes: sink);
        List<RemotePointer> filled = FillPublishedUntilEvicting(store, sink);
        int live = checked((int)store.GetStats().Entries);
        long evictedBefore = store.Evictions;
        var present = new List<int>();
        for (int i = 0; i < filled.Count; i++)
        {
            if (store.TryLookup(Key("k", i), out _, out _))
            {
                present.Add(i);
            }
        }

        // Every slot of the class gets a write that waits: each must evict a published key and take its slot at
        // once, although the eviction's tombstone waits for the ack too.
        for (int i = 0; i < live; i++)
        {
            StoreWriteResult w = store.Write(Key("p", i), ValueOf(i));
            Assert.True(w.Status == StoreStatus.Ok, $"write {i} of {live} while the evictions' tombstones wait: {w.Status}");
        }

        Assert.Equal(evictedBefore + live, store.Evictions);
        AssertAllIndexedAndPending(store, live);

        // Nothing published is left: a write must not evict one of the waiting writes.
        Assert.Equal(StoreStatus.OutOfMemory, store.Write("one-more"u8, ValueOf(-1)).Status);
        Assert.Equal(evictedBefore + live, store.Evictions);
        AssertAllIndexedAndPending(store, live);

        // The evicted keys: absent, their absence unpublished (their slots hold other keys by now), and no
        // one-sided reader of their old pointers accepts anything.
        var evicted = new List<int>();
        foreach (int i in present)
        {
            if (store.TryLookup(Key("k", i), out _, out _, out bool pending))
            {
                continue;
            }

            evicted.Add(i);
            Assert.True(pending, $"k-{i} was evicted by a delete the secondary does not hold, and its absence was answered as published");
            Assert.NotEqual(EntryStatus.Ok, EntryValidator.Validate(Slot(store, filled[i]), Key("k", i), 0, out _));
        }

        Assert.Equal(present.Count, evicted.Count);

        store.Publish(sink.Lsn);
        Assert.False(store.TryLookup(Key("k", evicted[^1]), out _, out _, out bool stillPending));
        Assert.False(stillPending);
        Assert.Equal(StoreStatus.Ok, store.Write("one-more"u8, ValueOf(-1)).Status);
        Assert.Equal(evictedBefore + live + 1, store.Evictions);
    }

    [Fact]
    public void EmptySlabForAnotherClass_SparesTheSparsestSlab_WhenItHoldsAnUnpublishedEntry()
    {
        var sink = new LsnSink();
        using var store = new StoreEngine(Small with { Eviction = EvictionPolicy.AllKeysLru }, changes: sink);
        List<RemotePointer> filled = FillPublishedUntilEvicting(store, sink);

        // The slab of the last key written keeps that key alone, which is then overwritten, unpublished: the
        // sparsest slab by far, the one a class without slabs would empty if an unpublished entry were evictable.
        int last = filled.Count - 1;
        ulong slabOfLast = SlabOf(store, filled[last]);
        for (int i = 0; i < last; i++)
        {
            if (SlabOf(store, filled[i]) == slabOfLast)
            {
                store.Delete(Key("k", i));
            }
        }

        store.Publish(sink.Lsn);
        Assert.Equal(StoreStatus.Ok, store.Write(Key("k", last), ValueOf(1_000_000)).Status);
        Assert.True(store.TryLookup(Key("k", last), out RemotePointer anchor, out _, out bool pending) && pending);
        Assert.Equal(slabOfLast, SlabOf(store, anchor));

        // 1,000 bytes: a class that holds no slab, so a slab of the 144-byte class must be emptied for it.
        StoreWriteResult large = store.Write("large"u8, new byte[1000]);

        Assert.Equal(StoreStatus.Ok, large.Status);
        Assert.NotEqual(slabOfLast, SlabOf(store, large.Pointer));
        Assert.True(store.TryLookup(Key("k", last), out RemotePointer after, out _, out pending) && pending, "the unpublished write was evicted");
        Assert.Equal(anchor, after);
        store.Publish(sink.Lsn);
        Assert.Equal(EntryStatus.Ok, EntryValidator.Validate(Slot(store, anchor), Key("k", last), 0, out ValidatedEntry entry));
        Assert.Equal(ValueOf(1_000_000), Slot(store, anchor).Slice(entry.ValueOffset, entry.ValueLength).ToArray());
    }

    // Writes k-0, k-1, ... each published at once, until the first eviction; returns their pointers.
    private static List<RemotePointer> FillPublishedUntilEvicting(StoreEngine store, LsnSink sink)
    {
        var pointers = new List<RemotePointer>();
        for (int i = 0; store.Evictions == 0; i++)
        {
            StoreWriteResult w = store.Write(Key("k", i), ValueOf(i));
            Assert.Equal(StoreStatus.Ok, w.Status);
            store.Publish(sink.Lsn);
            pointers.Add(w.Pointer);
        }

        return pointers;
    }

    private static void AssertAllIndexedAndPending(StoreEngine store, int count)
    {
        for (int i = 0; i < count; i++)
        {
            Assert.True(store.TryLookup(Key("p", i), out _, out _, out bool pending), $"the unpublished write of p-{i} was evicted");
            Assert.True(pending);
        }
    }

    private static ulong SlabOf(StoreEngine store, RemotePointer pointer) =>
        OffsetOf(store, pointer) / (ulong)store.Options.SlabSize;

    private static byte[] Key(string prefix, int i) => Encoding.ASCII.GetBytes($"{prefix}-{i:D6}");

    // 100 bytes, distinct per key, so that a foreign value cannot pass for the key's own.
    private static byte[] ValueOf(int i)
    {
        var value = new byte[100];
        BitConverter.TryWriteBytes(value, i);
        return value;
    }

    private static Span<byte> Slot(StoreEngine store, RemotePointer pointer) =>
        store.Memory.GetSpan(OffsetOf(store, pointer), (int)pointer.Length);

    // A stream that always waits for a secondary: every write and tombstone stays unpublished until Publish.
    private sealed class LsnSink : IChangeSink
    {
        public ulong Lsn { get; private set; }

        public ulong Append(in SlotChange change) => ++Lsn;

        public void AppendSlabRelease(in RemotePointer slab) => ++Lsn;

        public void AppendRegion(in RemotePointer region) => ++Lsn;
    }
}
