using System.Text;
using MirrorKv.Client;
using MirrorKv.Entries;
using MirrorKv.Memory;
using MirrorKv.Protocol;
using MirrorKv.Store;

namespace MirrorKv.Adapter.Tests;

/// <summary>
/// Every evicting policy through a pair: evictions travel as deletes with the primary address, so the secondary
/// stays identical; a client holding pointers to evicted slots reads the key's own value or misses, on either
/// node; and keys a client reads one-sided (the adapter records the reads, no store code runs) outlive unread
/// ones under allkeys-lru and allkeys-lfu. The expiry reaper's deletes travel the same way: a pointer to a key it
/// reaped, its slot since taken by another key, never reads as that other key's value at either node.
/// </summary>
public class EvictionPairTests
{
    // 16 slabs of 16 KiB: ~1,800 entries of 100-byte values, so a few thousand writes evict thousands.
    private static readonly StoreOptions Small = new() { MaxMemory = 256UL << 10, SlabSize = 16 << 10, MaxKeyLength = 64 };
    private static readonly StoreOptions SmallLru = Small with { Eviction = EvictionPolicy.AllKeysLru };

    // An hour from now: the expiry of the values written under volatile-ttl, which no test outlives.
    private static readonly long Later = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 3_600_000;

    [Theory]
    [InlineData(EvictionPolicy.AllKeysLru)]
    [InlineData(EvictionPolicy.AllKeysLfu)]
    [InlineData(EvictionPolicy.VolatileTtl)]
    public async Task ManyEvictionsAcrossSizeClasses_SecondaryIdentical_AndStalePointersReadOwnValueOrMissOnBothNodes(EvictionPolicy policy)
    {
        // Under volatile-ttl every value carries an expiry, each its own, so that the policy has keys to evict.
        bool expires = policy == EvictionPolicy.VolatileTtl;
        await using PairFixture pair = await PairFixture.StartAsync(store: Small with { Eviction = policy });
        MirrorKvClient writer = await pair.ConnectClientAsync();
        MirrorKvClient reader = await pair.ConnectClientAsync();
        var latest = new Dictionary<string, byte[]>();
        var random = new Random(16);
        const int Keys = 3000;
        for (int phase = 0; phase < 6; phase++)
        {
            // Each phase writes one size range, so that classes come and go and slabs are emptied for others.
            for (int i = 0; i < 1500; i++)
            {
                string key = $"key-{random.Next(Keys)}";
                byte[] value = Value(random, (phase % 3) switch { 0 => random.Next(1, 60), 1 => random.Next(300, 600), _ => random.Next(2000, 4000) }, expires);
                await writer.SetAsync(key, value);
                latest[key] = value;
            }

            // The reader caches pointers that the next phase's evictions make stale.
            await ReadAllAsync(reader, pair.Primary.Store, latest, Keys);
        }

        Assert.True(pair.Primary.Store.Evictions >= 2000, $"only {pair.Primary.Store.Evictions} evictions");
        Assert.True(pair.Primary.Store.SlabsMoved > 0, "no slab was emptied for another class");
        Assert.True(expires || pair.Primary.Store.SlabsAutomoved > 0, "no class took a slab by age (automove): the audit below would not cover it");
        await Waits.UntilAsync(() => pair.Secondary.Lsn == pair.Primary.Lsn);
        Assert.Equal(0, pair.Secondary.Store.Evictions);
        PairAudit.AssertIdentical(pair.Primary.Store, pair.Secondary.Store, Enumerable.Range(0, Keys).Select(i => $"key-{i}"));

        for (int i = 0; i < 1500; i++)
        {
            string key = $"key-{random.Next(Keys)}";
            byte[] value = Value(random, random.Next(1, 4000), expires);
            await writer.SetAsync(key, value);
            latest[key] = value;
        }

        await Waits.UntilAsync(() => pair.Secondary.Lsn == pair.Primary.Lsn);
        pair.Network.Crash(PairFixture.PrimaryAddress);
        await ReadAllAsync(reader, pair.Secondary.Store, latest, Keys);
    }

    [Fact]
    public async Task Failover_OfAFullStore_ThePromotedSecondaryStaysWithinMaxMemory_AndKeepsEvicting()
    {
        // A secondary's chunks mirror its primary's and it registers none of its own: one of its own (one slab) would
        // put it a slab over the limit once promoted, and every later secondary, which copies all of it, one more.
        await using PairFixture pair = await PairFixture.StartAsync(store: SmallLru);
        MirrorKvClient client = await pair.ConnectClientAsync();
        for (int i = 0; i < 4000; i++)
        {
            await client.SetAsync($"key-{i}", new byte[100]);
        }

        await Waits.UntilAsync(() => pair.Secondary.Lsn == pair.Primary.Lsn);
        StoreStats primary = pair.Primary.Store.GetStats(), secondary = pair.Secondary.Store.GetStats();
        Assert.True(pair.Primary.Store.Evictions > 1000, $"{pair.Primary.Store.Evictions} evictions");
        Assert.Equal(primary.ChunkBytes, secondary.ChunkBytes);
        Assert.Equal(primary.Chunks, secondary.Chunks);
        Assert.True(secondary.MemoryUsed <= (long)Small.MaxMemory, $"secondary uses {secondary.MemoryUsed} of {Small.MaxMemory}");

        pair.Network.Crash(PairFixture.PrimaryAddress);
        long entriesBefore = secondary.Entries;
        for (int i = 4000; i < 8000; i++)
        {
            await client.SetAsync($"key-{i}", new byte[100]);
        }

        StoreStats promoted = pair.Secondary.Store.GetStats();
        Assert.Equal(NodeRole.Primary, pair.Secondary.Role);
        Assert.True(promoted.MemoryUsed <= (long)Small.MaxMemory, $"the promoted node uses {promoted.MemoryUsed} of {Small.MaxMemory}");
        Assert.Equal(primary.ChunkBytes, promoted.ChunkBytes);
        Assert.True(pair.Secondary.Store.Evictions > 1000, $"the promoted node evicted {pair.Secondary.Store.Evictions}");
        Assert.InRange(promoted.Entries, entriesBefore - 200, entriesBefore + 200);
    }

    [Fact]
    public async Task OneSidedReadsBetweenWriteBursts_KeepReadKeys_WhileUnreadOnesAreEvicted()
    {
        await using PairFixture pair = await PairFixture.StartAsync(store: SmallLru);
        MirrorKvClient writer = await pair.ConnectClientAsync();

        // Reads from the primary only: a hedged read answered by the secondary (a loaded machine makes some)
        // marks no access at the primary, whose eviction this test watches.
        MirrorKvClient reader = await pair.ConnectClientAsync(readFrom: ReadFrom.Primary);
        StoreEngine store = pair.Primary.Store;
        (int written, List<string> hot) = await FillUntilEvictingAsync(writer, store);

        // As EvictionTests: bursts of an eighth of the store, the hot quarter read before each. After the first
        // round the reader holds every hot pointer, so its reads are one-sided READs only.
        int capacity = (int)store.GetStats().Entries;
        long readsBefore = Volatile.Read(ref pair.Primary.Counters.Reads);
        for (int round = 0, next = 0; round < 16; round++)
        {
            foreach (string key in hot)
            {
                Assert.NotNull(await reader.GetAsync(key));
            }

            for (int end = next + (capacity / 8); next < end; next++)
            {
                await writer.SetAsync($"new-{next:D6}", Value(new Random(next), 100));
            }
        }

        Assert.True(Volatile.Read(ref pair.Primary.Counters.Reads) - readsBefore >= hot.Count * 15L, "the hot keys were not read one-sided");
        int unreadLeft = 0;
        for (int i = 1; i < written; i++)
        {
            unreadLeft += i % 4 != 0 && store.TryLookup(Encoding.ASCII.GetBytes($"k-{i:D6}"), out _, out _) ? 1 : 0;
        }

        Assert.Equal(0, unreadLeft);
    }

    [Fact]
    public async Task OneSidedReadsUnderLfu_KeepKeysReadOften_ThroughWritesOfTwiceTheStore()
    {
        await using PairFixture pair = await PairFixture.StartAsync(store: Small with { Eviction = EvictionPolicy.AllKeysLfu });
        MirrorKvClient writer = await pair.ConnectClientAsync();
        // Reads from the primary alone: a hedged read answered by the secondary marks no access at the primary.
        MirrorKvClient reader = await pair.ConnectClientAsync(readFrom: ReadFrom.Primary);
        StoreEngine store = pair.Primary.Store;
        (int written, List<string> hot) = await FillUntilEvictingAsync(writer, store);

        // Read only now, 40 times each (a counter of ~8 against a new key's 5), and never again: under LRU these
        // keys would go in the hand's second turn. The first read looks the key up; the others are one-sided.
        long readsBefore = Volatile.Read(ref pair.Primary.Counters.Reads);
        foreach (string key in hot)
        {
            for (int r = 0; r < 40; r++)
            {
                Assert.NotNull(await reader.GetAsync(key));
            }
        }

        Assert.True(Volatile.Read(ref pair.Primary.Counters.Reads) - readsBefore >= hot.Count * 39L, "the hot keys were not read one-sided");

        // A lookup alone leaves 6; the one-sided READs, recorded by the adapter, raise the counters further.
        double meanCounter = hot.Average(key =>
        {
            Assert.True(store.TryLookup(Encoding.ASCII.GetBytes(key), out RemotePointer pointer, out _));
            Assert.True(store.Memory.TryGetOffset(pointer.RKey, pointer.Address, out ulong offset));
            return store.Access!.ValueAt(offset);
        });
        Assert.True(meanCounter >= 7, $"the hot keys' counters average {meanCounter:F1}: one-sided reads were not recorded");
        int capacity = (int)store.GetStats().Entries;
        for (int next = 0; next < capacity * 2; next++)
        {
            await writer.SetAsync($"new-{next:D6}", Value(new Random(next), 100));
        }

        Assert.True(store.Evictions >= capacity * 2);
        Assert.All(hot, key => Assert.True(store.TryLookup(Encoding.ASCII.GetBytes(key), out _, out _), $"{key}, read 40 times, was evicted"));
        await Waits.UntilAsync(() => pair.Secondary.Lsn == pair.Primary.Lsn);
        PairAudit.AssertIdentical(store, pair.Secondary.Store, Enumerable.Range(0, written).Select(i => $"k-{i:D6}").Concat(Enumerable.Range(0, capacity * 2).Select(i => $"new-{i:D6}")));
    }

    [Fact]
    public async Task StalePointerToAKeyTheReaperTook_SlotReusedByAnotherKey_MissesAtThePrimaryAndFailsValidationAtTheSecondary()
    {
        await using PairFixture pair = await PairFixture.StartAsync(store: Small);
        MirrorKvClient writer = await pair.ConnectClientAsync();
        MirrorKvClient reader = await pair.ConnectClientAsync(readFrom: ReadFrom.Primary);
        var random = new Random(16);

        // Long enough to read it back on a loaded machine; the primary's own reaper (wall clock, every 100 ms) then
        // takes it, and its delete reaches the secondary as a tombstone with the primary address.
        var expiring = new byte[100 + ValueExpiry.Size];
        random.NextBytes(expiring);
        ValueExpiry.Write(expiring, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 2_000);
        await writer.SetAsync("expiring", expiring);
        Assert.Equal(expiring, await reader.GetAsync("expiring"));
        Assert.True(pair.Primary.Store.TryLookup("expiring"u8, out RemotePointer stale, out ulong version));

        await Waits.UntilAsync(() => pair.Primary.ExpiredEntriesReaped == 1, seconds: 10);
        await Waits.UntilAsync(() => !pair.Secondary.Store.TryLookup("expiring"u8, out _, out _), "the secondary applying the reaper's delete");
        RawClient atSecondary = await RawClient.ConnectAsync(pair, pair.Secondary.EndPoint);
        (WireStatus status, byte[] slot) = await atSecondary.ReadAsync(stale, Opcode.FailoverRead);
        Assert.Equal(WireStatus.Ok, status);
        Assert.Equal(EntryStatus.Deleted, EntryValidator.Validate(slot, "expiring"u8, version, out _));

        // A key of the same size takes the freed slot at the primary, and at the secondary the slot mirroring it.
        byte[] otherValue = Value(random, 100, expires: true);
        await writer.SetAsync("other-00", otherValue);
        Assert.True(pair.Primary.Store.TryLookup("other-00"u8, out RemotePointer reused, out _));
        Assert.Equal(stale, reused);
        await Waits.UntilAsync(() => pair.Secondary.Lsn == pair.Primary.Lsn);

        (status, slot) = await atSecondary.ReadAsync(stale, Opcode.FailoverRead);
        Assert.Equal(WireStatus.Ok, status);
        Assert.Equal(EntryStatus.Ok, EntryValidator.Validate(slot, "other-00"u8, 0, out ValidatedEntry foreign));
        Assert.Equal(otherValue, foreign.ValueOf(slot).ToArray());
        Assert.Equal(EntryStatus.ForeignKey, EntryValidator.Validate(slot, "expiring"u8, version, out _));

        // The reader still holds the stale pointer: its one-sided read fails validation and its lookup misses.
        ClientStats before = reader.Stats;
        Assert.Null(await reader.GetAsync("expiring"));
        Assert.True(reader.Stats.Reads > before.Reads, "the reader did not read through the stale pointer");
        Assert.True(reader.Stats.Lookups > before.Lookups, "the reader did not fall back to a lookup");
        Assert.Equal(otherValue, await reader.GetAsync("other-00"));
    }

    // Every key reads as its latest value when the store holds it, and as a miss when it was evicted: never another
    // key's value, never an older one of its own.
    private static async Task ReadAllAsync(MirrorKvClient client, StoreEngine store, Dictionary<string, byte[]> latest, int keys)
    {
        for (int i = 0; i < keys; i++)
        {
            string key = $"key-{i}";
            byte[]? read = await client.GetAsync(key);
            bool held = store.TryLookup(Encoding.UTF8.GetBytes(key), out _, out _);
            if (held)
            {
                Assert.Equal(latest[key], read);
            }
            else
            {
                Assert.Null(read);
            }
        }
    }

    private static byte[] Value(Random random, int length, bool expires = false)
    {
        var value = new byte[length + (expires ? ValueExpiry.Size : 0)];
        random.NextBytes(value);
        if (expires)
        {
            ValueExpiry.Write(value, Later + random.Next(1_000_000));
        }

        return value;
    }

    // Writes fresh keys until the store evicts; returns how many it wrote and every fourth key still held (the hot quarter).
    private static async Task<(int Written, List<string> Hot)> FillUntilEvictingAsync(MirrorKvClient writer, StoreEngine store)
    {
        int written = 0;
        while (store.Evictions == 0)
        {
            await writer.SetAsync($"k-{written:D6}", Value(new Random(written), 100));
            written++;
        }

        var hot = new List<string>();
        for (int i = 0; i < written; i += 4)
        {
            if (store.TryLookup(Encoding.ASCII.GetBytes($"k-{i:D6}"), out _, out _))
            {
                hot.Add($"k-{i:D6}");
            }
        }
        return (written, hot);
    }

    [Fact]
    public async Task PipelinedWrites_IntoAStoreFullOfEntriesAwaitingTheirAck_WaitForRoom_InsteadOfFailing()
    {
        // Under allkeys-lru, 200 writes of 4 KiB in flight at once into room for about 48: the entries written in
        // the same moments still wait for the secondary's ack and may not be evicted yet. A write that finds nothing
        // else waits for the acks and runs again (it was refused OutOfMemory before), and the connection's later writes
        // wait behind it.
        await using PairFixture pair = await PairFixture.StartAsync(store: SmallLru);
        MirrorKvClient client = await pair.ConnectClientAsync();
        byte[][] values = Enumerable.Range(0, 200).Select(i => Enumerable.Repeat((byte)i, 4096).ToArray()).ToArray();
        Task[] writes = values.Select((v, i) => client.SetAsync($"full:{i}", v).AsTask()).ToArray();
        await Waits.ForAsync(Task.WhenAll(writes.Select(async w =>
        {
            try
            {
                await w;
            }
            catch (MirrorKvException)
            {
            }
        })), "every write to be answered");

        string[] failed = writes.Where(w => w.IsFaulted).Select(w => w.Exception!.InnerException!.Message).ToArray();
        Assert.True(failed.Length == 0, $"{failed.Length} of {writes.Length} writes failed, the first: {failed.FirstOrDefault()}");
        Assert.True(pair.Primary.Store.GetStats().Evictions >= 100, $"{pair.Primary.Store.GetStats().Evictions} evictions");

        // The last write is there, on both nodes.
        Assert.True(pair.Primary.Store.TryLookup(Encoding.ASCII.GetBytes("full:199"), out _, out _));
        await Waits.UntilAsync(() => pair.Secondary.Store.TryLookup(Encoding.ASCII.GetBytes("full:199"), out _, out _), "the last write to be on the secondary");
    }
}
