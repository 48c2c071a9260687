using System.Text;
using MirrorKv.Entries;
using MirrorKv.Memory;

namespace MirrorKv.Store.Tests;

/// <summary>
/// Eviction in the store engine: noeviction still refuses a write to a full store; allkeys-lru and allkeys-lfu
/// make room by evicting within the writer's size class (or emptying a slab for a class that has none), lru
/// spares keys read since the CLOCK's last pass, lfu keys read often, volatile-ttl evicts only keys with an
/// expiry, the nearest to expiring first, and refuses once none is left; no policy leaves a stale pointer
/// anything it could accept.
/// </summary>
public sealed class EvictionTests
{
    // 16 slabs of 16 KiB: 113 slots of 144 bytes per slab, ~1,800 entries of the size used below.
    private static readonly StoreOptions Small = new() { MaxMemory = 256UL << 10, SlabSize = 16 << 10, MaxKeyLength = 64 };
    private static readonly StoreOptions SmallLru = Small with { Eviction = EvictionPolicy.AllKeysLru };
    private static readonly StoreOptions SmallLfu = Small with { Eviction = EvictionPolicy.AllKeysLfu };
    private static readonly StoreOptions SmallTtl = Small with { Eviction = EvictionPolicy.VolatileTtl };

    // An hour from now: far enough that no test's keys expire while it runs.
    private static readonly long Later = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 3_600_000;

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

    [Theory]
    [InlineData(EvictionPolicy.AllKeysLru)]
    [InlineData(EvictionPolicy.AllKeysLfu)]
    public void Write_FullStoreUnderAllKeysPolicy_EvictsOnePerWriteAndKeepsEverySurvivorIntact(EvictionPolicy policy)
    {
        using var store = new StoreEngine(Small with { Eviction = policy });
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
    public void Evict_UnderLfu_KeysReadOftenOnceOutliveTwiceTheStoreOfNewKeys()
    {
        using var store = new StoreEngine(SmallLfu);
        int capacity = FillUntilFull(store);
        List<(byte[] Key, RemotePointer Pointer)> hot = ReadEveryFourth(store, capacity, reads: 30);

        // No read after the first ones: a CLOCK would have cleared the marks in its first turn and evicted them in
        // its second. The counters (~7 after 30 reads) stay above every new key's (5) for as long as they do not
        // decay, a minute per step by default.
        Write(store, "new", 0, capacity * 2);

        foreach ((byte[] key, RemotePointer pointer) in hot)
        {
            Assert.True(store.TryLookup(key, out RemotePointer now, out _), $"hot key {Encoding.ASCII.GetString(key)} was evicted");
            Assert.Equal(pointer, now);
        }

        Assert.True(UnreadLeft(store, capacity) < capacity * 3 / 8, "fewer than half of the unread keys were evicted");
    }

    [Fact]
    public void Evict_UnderLfuDecayingAtEveryPass_KeysReadOftenOnlyLongAgoAreEvictedToo()
    {
        // The same as above with the decay at every pass of the hand (redis's lfu-decay-time 0): sixteen turns take
        // the hot keys' counters down to 0, after which they are no better than any other key.
        using var store = new StoreEngine(SmallLfu with { LfuDecayTime = TimeSpan.Zero });
        int capacity = FillUntilFull(store);
        List<(byte[] Key, RemotePointer Pointer)> hot = ReadEveryFourth(store, capacity, reads: 30);

        Write(store, "new", 0, capacity * 2);

        int hotLeft = hot.Count(h => store.TryLookup(h.Key, out _, out _));
        Assert.True(hotLeft < hot.Count / 2, $"{hotLeft} of {hot.Count} keys read only long ago are still there: their counters did not decay");
    }

    [Fact]
    public void Evict_UnderLfu_KeysReadOftenOutliveKeysReadOnce()
    {
        // A quarter of the keys read 600 times (a counter of ~15), the rest once (6; after the others, so they are
        // the recent ones). With decay at every pass, writes of the store's size must evict keys that were read:
        // the ones read once go, the ones read often stay. A CLOCK sees one read of each and evicts both alike.
        using var store = new StoreEngine(SmallLfu with { LfuDecayTime = TimeSpan.Zero });
        int capacity = FillUntilFull(store);
        List<(byte[] Key, RemotePointer Pointer)> often = ReadEveryFourth(store, capacity, reads: 600);
        int once = 0;
        for (int i = 1; i < capacity; i++)
        {
            if (i % 4 != 0 && store.TryLookup(Key("k", i), out RemotePointer pointer, out _))
            {
                store.Access!.RecordRead(pointer);
                once++;
            }
        }

        Write(store, "new", 0, capacity);

        Assert.All(often, h => Assert.True(store.TryLookup(h.Key, out _, out _), $"key {Encoding.ASCII.GetString(h.Key)} read 600 times was evicted"));
        Assert.True(UnreadLeft(store, capacity) < once / 2, $"{UnreadLeft(store, capacity)} of {once} keys read once are still there");
    }

    [Fact]
    public void Write_FullStoreUnderVolatileTtlWithNoKeyThatExpires_OutOfMemoryUntilOneIsWritten()
    {
        using var store = new StoreEngine(SmallTtl);
        int filled = FillUntilFull(store);
        StoreStats before = store.GetStats();

        Assert.Equal(StoreStatus.OutOfMemory, store.Write(Key("k", filled + 1), ValueOf(0)).Status);
        Assert.Equal(StoreStatus.OutOfMemory, store.Write(Key("k", filled + 2), ValueOf(0)).Status);
        Assert.Equal(before, store.GetStats());
        Assert.Null(store.Access);

        // A key with an expiry (long.MaxValue, the cache package's "never", is none) makes room for one more.
        Assert.Equal(StoreStatus.Ok, store.Delete(Key("k", 0)).Status);
        Assert.Equal(StoreStatus.Ok, store.Write(Key("never", 0), Expiring(0, long.MaxValue)).Status);
        Assert.Equal(StoreStatus.OutOfMemory, store.Write(Key("k", filled + 1), ValueOf(0)).Status);
        Assert.Equal(StoreStatus.Ok, store.Delete(Key("never", 0)).Status);
        Assert.Equal(StoreStatus.Ok, store.Write(Key("expiring", 0), Expiring(0, Later)).Status);
        Assert.Equal(StoreStatus.Ok, store.Write(Key("k", filled + 1), ValueOf(0)).Status);
        Assert.False(store.TryLookup(Key("expiring", 0), out _, out _));
        Assert.Equal(1, store.Evictions);
        Assert.Equal(StoreStatus.OutOfMemory, store.Write(Key("k", filled + 2), ValueOf(0)).Status);
    }

    [Fact]
    public void Evict_UnderVolatileTtl_OnlyKeysWithAnExpiry_TheNearestFirst()
    {
        // Every other key expires: three in four of those in an hour, one in four in ten hours, interleaved.
        int capacity;
        using (var probe = new StoreEngine(Small))
        {
            capacity = FillUntilFull(probe);
        }

        using var store = new StoreEngine(SmallTtl);
        var soon = new List<byte[]>();
        var late = new List<byte[]>();
        var never = new List<byte[]>();
        for (int i = 0; i < capacity; i++)
        {
            byte[] key = Key("k", i);
            (List<byte[]> list, byte[] value) = (i % 2, i % 8) switch
            {
                (0, _) => (never, ValueOf(i)),
                (_, 7) => (late, Expiring(i, Later + (9 * 3_600_000))),
                _ => (soon, Expiring(i, Later + i)),
            };
            Assert.Equal(StoreStatus.Ok, store.Write(key, value).Status);
            list.Add(key);
        }

        Assert.Equal(0, store.Evictions);

        // Half the keys that expire soon: the sampled windows always hold some of them, so no late one goes.
        Write(store, "new", 0, soon.Count / 2);

        Assert.Equal(soon.Count / 2, store.Evictions);
        Assert.All(never, key => Assert.True(store.TryLookup(key, out _, out _)));
        Assert.All(late, key => Assert.True(store.TryLookup(key, out _, out _)));
        Assert.Equal(soon.Count - (soon.Count / 2), soon.Count(key => store.TryLookup(key, out _, out _)));
    }

    [Fact]
    public void Write_ToAClassWithNoSlabUnderVolatileTtl_EmptiesOnlyASlabOfKeysThatExpire()
    {
        // Two slabs' worth of keys that expire, written first, then keys that do not until the store is full.
        using var store = new StoreEngine(SmallTtl);
        var expiring = new List<byte[]>();
        int i = 0;
        for (; i < 226; i++)
        {
            Assert.Equal(StoreStatus.Ok, store.Write(Key("e", i), Expiring(i, Later + i)).Status);
            expiring.Add(Key("e", i));
        }

        int kept = FillUntilFull(store);
        var large = new byte[3000];

        StoreWriteResult result = store.Write(Key("large", 0), large);

        Assert.Equal(StoreStatus.Ok, result.Status);
        Assert.True(store.SlabsMoved > 0);
        Assert.Equal(expiring.Count - store.Evictions, expiring.Count(key => store.TryLookup(key, out _, out _)));
        for (int k = 0; k < kept; k++)
        {
            Assert.True(store.TryLookup(Key("k", k), out _, out _), $"k-{k}, which does not expire, was evicted");
        }
    }

    [Theory]
    [InlineData(EvictionPolicy.AllKeysLru)]
    [InlineData(EvictionPolicy.AllKeysLfu)]
    [InlineData(EvictionPolicy.VolatileTtl)]
    public void StalePointer_AfterItsKeyWasEvictedAndTheSlotReused_NeverValidates(EvictionPolicy policy)
    {
        // The lookups below count as reads: under LFU, without decay, the keys read would then outlive every new one.
        using var store = new StoreEngine(Small with { Eviction = policy, LfuDecayTime = TimeSpan.Zero });
        int capacity = FillUntilFull(store, expires: policy == EvictionPolicy.VolatileTtl);
        var stale = new List<(byte[] Key, RemotePointer Pointer, ulong Version)>();
        for (int i = 0; i <= capacity; i++)
        {
            if (store.TryLookup(Key("k", i), out RemotePointer pointer, out ulong version))
            {
                stale.Add((Key("k", i), pointer, version));
            }
        }

        Write(store, "other", 0, capacity * 2, expires: policy == EvictionPolicy.VolatileTtl);

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

    // Looks up every fourth key k-i and records `reads` one-sided reads of it; gives the keys and pointers.
    private static List<(byte[] Key, RemotePointer Pointer)> ReadEveryFourth(StoreEngine store, int capacity, int reads)
    {
        var hot = new List<(byte[] Key, RemotePointer Pointer)>();
        for (int i = 0; i < capacity; i += 4)
        {
            if (store.TryLookup(Key("k", i), out RemotePointer pointer, out _))
            {
                hot.Add((Key("k", i), pointer));
                for (int r = 0; r < reads; r++)
                {
                    store.Access!.RecordRead(pointer);
                }
            }
        }

        return hot;
    }

    // The keys k-i with i not a multiple of 4 still held.
    private static int UnreadLeft(StoreEngine store, int capacity)
    {
        int left = 0;
        for (int i = 1; i < capacity; i++)
        {
            left += i % 4 != 0 && store.TryLookup(Key("k", i), out _, out _) ? 1 : 0;
        }

        return left;
    }

    // Writes k-0, k-1, ... until a write is refused or evicts a key: the store is then full. Returns the number
    // of writes before that one (under an evicting policy, also the entries held).
    private static int FillUntilFull(StoreEngine store, bool expires = false)
    {
        for (int i = 0; ; i++)
        {
            if (store.Write(Key("k", i), expires ? Expiring(i, Later + i) : ValueOf(i)).Status != StoreStatus.Ok || store.Evictions > 0)
            {
                return i;
            }
        }
    }

    // Writes prefix-from .. prefix-(from+count-1), each of which must succeed; returns the next index.
    private static int Write(StoreEngine store, string prefix, int from, int count, bool expires = false)
    {
        for (int i = from; i < from + count; i++)
        {
            Assert.Equal(StoreStatus.Ok, store.Write(Key(prefix, i), expires ? Expiring(i, Later + i) : ValueOf(i)).Status);
        }

        return from + count;
    }

    // 100 bytes, as ValueOf, behind a ValueExpiry prefix: a key redis would call volatile.
    private static byte[] Expiring(int i, long expiresAtUnixMs)
    {
        byte[] value = ValueOf(i);
        ValueExpiry.Write(value, expiresAtUnixMs);
        BitConverter.TryWriteBytes(value.AsSpan(ValueExpiry.Size), i);
        return value;
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
        store.SpanAt(pointer);
}
