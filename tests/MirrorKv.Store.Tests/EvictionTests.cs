using System.Text;
using MirrorKv.Memory;

namespace MirrorKv.Store.Tests;

/// <summary>
/// Eviction in the store engine: noeviction still refuses a write to a full store; allkeys-lru makes room by
/// evicting within the writer's size class (or emptying a slab for a class that has none), spares keys read
/// since the CLOCK's last pass, and leaves a stale pointer nothing it could accept.
/// </summary>
public sealed class EvictionTests
{
    // 16 slabs of 16 KiB: 113 slots of 144 bytes per slab, ~1,800 entries of the size used below.
    private static readonly StoreOptions Small = new() { RegionSize = 256UL << 10, SlabSize = 16 << 10, MaxKeyLength = 64 };
    private static readonly StoreOptions SmallLru = Small with { Eviction = EvictionPolicy.AllKeysLru };

    [Fact]
    public void Write_FullStoreUnderNoEviction_OutOfMemoryAndUnchanged()
    {
        using var store = new StoreEngine(Small);
        int filled = FillUntilFull(store);
        StoreStats before = store.GetStats();

        StoreWriteResult result = store.Write(Key("k", filled + 1), ValueOf(0));

        Assert.Equal(StoreStatus.OutOfMemory, result.Status);
        Assert.Equal(before, store.GetStats());
        Assert.Null(store.Access);
        Assert.Equal(0, store.Evictions);
    }

    [Fact]
    public void Write_FullStoreUnderAllKeysLru_EvictsOnePerWriteAndKeepsEverySurvivorIntact()
    {
        using var store = new StoreEngine(SmallLru);
        int capacity = FillUntilFull(store);

        Write(store, "k", capacity + 1, capacity * 2);

        StoreStats stats = store.GetStats();
        Assert.Equal(capacity, stats.Entries);
        Assert.Equal((capacity * 2) + 1, stats.Evictions);
        for (int i = 0; i <= capacity * 3; i++)
        {
            if (store.TryLookup(Key("k", i), out RemotePointer pointer, out _))
            {
                Assert.Equal(EntryStatus.Ok, EntryValidator.Validate(Slot(store, pointer), Key("k", i), 0, out ValidatedEntry entry));
                Assert.Equal(ValueOf(i), Slot(store, pointer).Slice(entry.ValueOffset, entry.ValueLength).ToArray());
            }
        }
    }

    [Fact]
    public void Evict_KeysReadBetweenWriteBursts_SurviveWhileUnreadOnesGo()
    {
        using var store = new StoreEngine(SmallLru);
        int capacity = FillUntilFull(store);
        var hot = new List<(byte[] Key, RemotePointer Pointer)>();
        for (int i = 0; i <= capacity; i += 4)
        {
            if (store.TryLookup(Key("k", i), out RemotePointer pointer, out _))
            {
                hot.Add((Key("k", i), pointer));
            }
        }

        // Each burst writes an eighth of the store: with the hot quarter read just before it and at most two bursts
        // of new keys still marked, the hand meets that many unread slots in less than one turn, so it never passes
        // a hot key twice between two reads of it. Sixteen bursts write twice the store: every unread key goes.
        int next = 0;
        for (int round = 0; round < 16; round++)
        {
            foreach ((byte[] _, RemotePointer pointer) in hot)
            {
                store.Access!.RecordRead(pointer);
            }

            next = Write(store, "new", next, capacity / 8);
        }

        foreach ((byte[] key, RemotePointer pointer) in hot)
        {
            Assert.True(store.TryLookup(key, out RemotePointer now, out _), $"hot key {Encoding.ASCII.GetString(key)} was evicted");
            Assert.Equal(pointer, now);
        }

        int unreadLeft = 0;
        for (int i = 1; i <= capacity; i++)
        {
            unreadLeft += i % 4 != 0 && store.TryLookup(Key("k", i), out _, out _) ? 1 : 0;
        }

        Assert.Equal(0, unreadLeft);
    }

    [Fact]
    public void StalePointer_AfterItsKeyWasEvictedAndTheSlotReused_NeverValidates()
    {
        using var store = new StoreEngine(SmallLru);
        int capacity = FillUntilFull(store);
        var stale = new List<(byte[] Key, RemotePointer Pointer, ulong Version)>();
        for (int i = 0; i <= capacity; i++)
        {
            if (store.TryLookup(Key("k", i), out RemotePointer pointer, out ulong version))
            {
                stale.Add((Key("k", i), pointer, version));
            }
        }

        Write(store, "other", 0, capacity * 2);

        int refused = 0;
        foreach ((byte[] key, RemotePointer pointer, ulong version) in stale)
        {
            EntryStatus status = EntryValidator.Validate(Slot(store, pointer), key, version, out _);
            if (!store.TryLookup(key, out _, out _))
            {
                Assert.NotEqual(EntryStatus.Ok, status);
                refused++;
            }
        }

        Assert.True(refused >= capacity / 2, $"only {refused} of {capacity} keys evicted");
    }

    [Fact]
    public void Update_ToAClassWithNoSlabInAFullStore_EmptiesAnotherSlabButNeverTheKeysOwn()
    {
        using var store = new StoreEngine(SmallLru);
        int capacity = FillUntilFull(store);
        var large = new byte[3000];

        for (int i = 0; i <= capacity; i += 7)
        {
            large[0] = (byte)i;
            StoreWriteResult result = store.Write(Key("k", i), large);
            Assert.Equal(StoreStatus.Ok, result.Status);
            Assert.True(store.TryLookup(Key("k", i), out RemotePointer pointer, out _));
            Assert.Equal(EntryStatus.Ok, EntryValidator.Validate(Slot(store, pointer), Key("k", i), 0, out ValidatedEntry entry));
            Assert.Equal((byte)i, Slot(store, pointer)[entry.ValueOffset]);
        }

        Assert.True(store.SlabsMoved > 0);
        Assert.True(store.Evictions > 0);
    }

    // Writes k-0, k-1, ... until a write is refused or evicts a key: the store is then full. Returns the number
    // of writes before that one (under allkeys-lru, also the entries held).
    private static int FillUntilFull(StoreEngine store)
    {
        for (int i = 0; ; i++)
        {
            if (store.Write(Key("k", i), ValueOf(i)).Status != StoreStatus.Ok || store.Evictions > 0)
            {
                return i;
            }
        }
    }

    // Writes prefix-from .. prefix-(from+count-1), each of which must succeed; returns the next index.
    private static int Write(StoreEngine store, string prefix, int from, int count)
    {
        for (int i = from; i < from + count; i++)
        {
            Assert.Equal(StoreStatus.Ok, store.Write(Key(prefix, i), ValueOf(i)).Status);
        }

        return from + count;
    }

    private static byte[] Key(string prefix, int i) => Encoding.ASCII.GetBytes($"{prefix}-{i:D6}");

    // 100 bytes, distinct per key, so that a foreign value cannot pass for the key's own.
    private static byte[] ValueOf(int i)
    {
        var value = new byte[100];
        BitConverter.TryWriteBytes(value, i);
        return value;
    }

    private static Span<byte> Slot(StoreEngine store, RemotePointer pointer) =>
        store.Region.GetSpan(pointer.Address - store.Region.BaseAddress, (int)pointer.Length);
}
