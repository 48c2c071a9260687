using MirrorKv.Entries;
using MirrorKv.Memory;
using System.Text;
using CsCheck;

namespace MirrorKv.Store.Tests;

/// <summary>
/// The reaper deletes exactly the live entries whose expiry prefix has passed, a budget at a time; a pointer to an
/// entry it reaped never validates again, even once another key's entry lies in the same slot (issue 16), and an
/// entry past its deadline that it has not reaped yet reads as itself, deadline included, for the reader to judge.
/// </summary>
public class ExpiryReapTests
{
    private static readonly StoreOptions Small = new() { MaxMemory = 4UL << 20, SlabSize = 64 << 10 };

    [Fact]
    public void ReapExpired_DeletesOnlyExpiredEntries_AndReportsThemAsTombstones()
    {
        var sink = new CountingSink();
        using var store = new StoreEngine(Small, changes: sink);
        Write(store, "old", expiresAt: 1_000, 40);
        Write(store, "boundary", expiresAt: 2_000, 3000);
        Write(store, "future", expiresAt: 3_000, 40);
        store.Write("plain"u8, "no prefix at all, even if long enough to hold one"u8);
        store.Write("magic-only"u8, [.. "MKX1"u8, 1, 0, 0, 0, .. new byte[8]]);
        int before = sink.Tombstones;

        int reaped = store.ReapExpired(nowUnixMs: 2_000, slotBudget: int.MaxValue / 2);

        Assert.Equal(2, reaped);
        Assert.Equal(2, sink.Tombstones - before);
        Assert.False(store.TryLookup("old"u8, out _, out _));
        Assert.False(store.TryLookup("boundary"u8, out _, out _));
        Assert.True(store.TryLookup("future"u8, out _, out _));
        Assert.True(store.TryLookup("plain"u8, out _, out _));
        Assert.True(store.TryLookup("magic-only"u8, out _, out _));
    }

    [Fact]
    public void ReapExpired_RestsOnceAWholePassMetNoExpiringEntry_AndWakesAtTheNextExpiringWrite()
    {
        // The node's timer asks every 100 ms; a store without expiring keys was swept under its lock each time.
        using var store = new StoreEngine(Small);
        for (int i = 0; i < 200; i++)
        {
            store.Write(Encoding.UTF8.GetBytes($"plain{i}"), new byte[40 + i]);
        }

        for (int call = 0; call < 100; call++)
        {
            Assert.Equal(0, store.ReapExpired(nowUnixMs: 500, slotBudget: 1024));
        }

        long examined = store.ReapSlotsExamined;
        Assert.True(examined >= 200, $"a whole pass examines every entry; {examined} slots examined");
        Assert.Equal(0, store.ReapExpired(nowUnixMs: 500, slotBudget: 1024));
        Assert.Equal(examined, store.ReapSlotsExamined);

        // An expiring write wakes it, and the entry is reaped once due.
        Write(store, "soon", expiresAt: 1_000, 10);
        int reaped = 0;
        for (int call = 0; call < 100 && reaped == 0; call++)
        {
            reaped += store.ReapExpired(nowUnixMs: 2_000, slotBudget: 1024);
        }

        Assert.Equal(1, reaped);
        Assert.False(store.TryLookup("soon"u8, out _, out _));
    }

    [Fact]
    public void ReapExpired_NeverRestsWhileAnExpiringEntryIsThere_WhateverTheOrderOfWritesAndSweeps()
    {
        // Steps: 0 plain write, 1 expiring write (due at 1,000), 2 delete, 3 a sweep of a few slots (at time 500,
        // so nothing is due yet); keys from a small set, so that writes overwrite and move entries under the cursor.
        Gen.Select(Gen.Int[0, 3], Gen.Int[0, 15], Gen.Int[1, 64]).Array[1, 300].Sample(steps =>
        {
            using var store = new StoreEngine(Small);
            var expiring = new HashSet<int>();
            foreach ((int op, int key, int budget) in steps)
            {
                byte[] name = Encoding.UTF8.GetBytes($"key{key}");
                switch (op)
                {
                    case 0:
                        store.Write(name, new byte[20 + (budget * 13)]);
                        expiring.Remove(key);
                        break;
                    case 1:
                        Write(store, $"key{key}", expiresAt: 1_000, budget * 13);
                        expiring.Add(key);
                        break;
                    case 2:
                        store.Delete(name);
                        expiring.Remove(key);
                        break;
                    default:
                        store.ReapExpired(nowUnixMs: 500, slotBudget: budget);
                        break;
                }
            }

            // Now everything is due: every expiring entry left must be reaped, in budgets of a few slots.
            int reaped = 0;
            for (int call = 0; call < 5_000 && reaped < expiring.Count; call++)
            {
                reaped += store.ReapExpired(nowUnixMs: 2_000, slotBudget: 64);
            }

            Assert.Equal(expiring.Count, reaped);
            Assert.All(expiring, key => Assert.False(store.TryLookup(Encoding.UTF8.GetBytes($"key{key}"), out _, out _)));
        }, iter: 300);
    }

    [Fact]
    public void ReapExpired_SmallBudget_ResumesWhereItStopped_AndFindsEverythingEventually()
    {
        using var store = new StoreEngine(Small);
        for (int i = 0; i < 300; i++)
        {
            Write(store, $"k{i}", expiresAt: i % 3 == 0 ? 10 : 10_000, 20 + (i * 37 % 900));
        }

        int reaped = 0, calls = 0;
        while (calls < 10_000 && reaped < 100)
        {
            reaped += store.ReapExpired(nowUnixMs: 500, slotBudget: 7);
            calls++;
        }

        Assert.Equal(100, reaped);
        Assert.True(calls > 10, "a budget of 7 slots cannot have swept the store in a few calls");
        Assert.Equal(200, store.GetStats().Entries);
        Assert.Equal(0, store.ReapExpired(nowUnixMs: 500, slotBudget: 100_000));
    }

    [Fact]
    public void ReapExpired_LargeBudgetOverAFewLargeSlots_SweepsEachSlotOncePerCall()
    {
        // Two entries of one slot each: a budget of 100,000 slots once meant 50,000 visits to each, a whole
        // entry hashed at every visit, with the store's lock held (a 900 kB SET stalled for half a second).
        using var store = new StoreEngine(Small);
        Write(store, "big-1", expiresAt: 10_000, 40_000);
        Write(store, "big-2", expiresAt: 10_000, 40_000);
        long slotsClaimed = store.GetStats().Entries;

        Assert.Equal(0, store.ReapExpired(nowUnixMs: 500, slotBudget: 100_000));

        Assert.InRange(store.ReapSlotsExamined, slotsClaimed, slotsClaimed * 2);
    }

    [Fact]
    public void ReapExpired_SkipsAnEntryWaitingForItsAck_AndReapsItOncePublished()
    {
        var sink = new CountingSink { HoldPublication = true };
        using var store = new StoreEngine(Small, changes: sink);
        Write(store, "pending", expiresAt: 10, 40);

        Assert.Equal(0, store.ReapExpired(nowUnixMs: 500, slotBudget: 1_000));

        store.Publish(ulong.MaxValue);
        Assert.Equal(1, store.ReapExpired(nowUnixMs: 500, slotBudget: 1_000));
        Assert.False(store.TryLookup("pending"u8, out _, out _));
    }

    [Fact]
    public void ReapExpired_MatchesAModel_OverRandomWritesDeletesAndTimes()
    {
        Gen.Select(Gen.Int[0, 40].Array[1, 120], Gen.Int[0, 100]).Sample((ops, now) =>
        {
            using var store = new StoreEngine(Small);
            var model = new Dictionary<string, int?>();
            for (int i = 0; i < ops.Length; i++)
            {
                string key = $"k{ops[i] % 25}";
                if (ops[i] >= 36)
                {
                    store.Delete(Encoding.UTF8.GetBytes(key));
                    model.Remove(key);
                }
                else if (ops[i] % 2 == 0)
                {
                    store.Write(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes($"plain value {i}"));
                    model[key] = null;
                }
                else
                {
                    Write(store, key, expiresAt: ops[i] * 3, 16 + i);
                    model[key] = ops[i] * 3;
                }
            }

            store.ReapExpired(now, slotBudget: 1_000_000);
            foreach ((string key, int? expiresAt) in model)
            {
                bool expected = expiresAt is null || expiresAt > now;
                Assert.Equal(expected, store.TryLookup(Encoding.UTF8.GetBytes(key), out _, out _));
            }

            Assert.Equal(model.Count(p => p.Value is null || p.Value > now), store.GetStats().Entries);
        }, iter: 300);
    }

    [Fact]
    public void StalePointer_AfterItsKeyExpiredWasReapedAndTheSlotReused_NeverValidates()
    {
        using var store = new StoreEngine(Small);
        byte[] key = "expiring-1"u8.ToArray();
        byte[] other = "other-key1"u8.ToArray();
        byte[] value = Value(expiresAt: 1_000, payload: 100, seed: 1);
        store.Write("plain"u8, "a key that never expires"u8);
        Assert.Equal(StoreStatus.Ok, store.Write(key, value).Status);
        Assert.True(store.TryLookup(key, out RemotePointer pointer, out ulong version));
        Assert.Equal(EntryStatus.Ok, EntryValidator.Validate(store.SpanAt(pointer), key, version, out _));

        // A millisecond before its deadline the entry is live: the reaper leaves it and the pointer still reads it.
        Assert.Equal(0, store.ReapExpired(nowUnixMs: 999, slotBudget: 1_000));
        Assert.Equal(EntryStatus.Ok, EntryValidator.Validate(store.SpanAt(pointer), key, version, out ValidatedEntry live));
        Assert.Equal(value, live.ValueOf(store.SpanAt(pointer)).ToArray());

        Assert.Equal(1, store.ReapExpired(nowUnixMs: 1_000, slotBudget: 1_000));
        Assert.False(store.TryLookup(key, out _, out _));
        Assert.Equal(EntryStatus.Deleted, EntryValidator.Validate(store.SpanAt(pointer), key, version, out _));

        // Another key of the same size takes the very slot the reaper freed, live and published.
        byte[] otherValue = Value(expiresAt: 1_000_000, payload: 100, seed: 2);
        StoreWriteResult reuse = store.Write(other, otherValue);
        Assert.Equal(StoreStatus.Ok, reuse.Status);
        Assert.Equal(pointer, reuse.Pointer);

        // The slot holds a whole, newer entry: only the key tells the stale reader that it is not its own.
        Assert.Equal(EntryStatus.Ok, EntryValidator.Validate(store.SpanAt(pointer), other, 0, out ValidatedEntry foreign));
        Assert.Equal(otherValue, foreign.ValueOf(store.SpanAt(pointer)).ToArray());
        Assert.True(foreign.Version > version);
        Assert.Equal(EntryStatus.ForeignKey, EntryValidator.Validate(store.SpanAt(pointer), key, version, out _));
        Assert.Equal(EntryStatus.ForeignKey, EntryValidator.Validate(store.SpanAt(pointer), key, 0, out _));
        Assert.False(store.TryLookup(key, out _, out _));
    }

    [Fact]
    public void StalePointer_AfterAReapWhoseTombstoneWaitsForItsAck_AndTheSlotReused_NeverValidates()
    {
        // Publish after replication: the reaper's tombstone waits for the secondary's ack, but its slot is freed at
        // once, so another key's write can land in it before the tombstone is published.
        var sink = new CountingSink { HoldPublication = true };
        using var store = new StoreEngine(Small, changes: sink);
        byte[] key = "expiring-1"u8.ToArray();
        byte[] other = "other-key1"u8.ToArray();
        Assert.Equal(StoreStatus.Ok, store.Write(key, Value(expiresAt: 1_000, payload: 100, seed: 1)).Status);
        store.Publish(ulong.MaxValue);
        Assert.True(store.TryLookup(key, out RemotePointer pointer, out ulong version));

        Assert.Equal(1, store.ReapExpired(nowUnixMs: 5_000, slotBudget: 1_000));
        Assert.Equal(EntryStatus.Torn, EntryValidator.Validate(store.SpanAt(pointer), key, version, out _));
        Assert.False(store.TryLookup(key, out _, out _, out bool deletePending));
        Assert.True(deletePending, "the key's absence was answered before its tombstone was acknowledged");

        byte[] otherValue = Value(expiresAt: 1_000_000, payload: 100, seed: 2);
        StoreWriteResult reuse = store.Write(other, otherValue);
        Assert.Equal(StoreStatus.Ok, reuse.Status);
        Assert.Equal(pointer, reuse.Pointer);
        Assert.Equal(EntryStatus.Torn, EntryValidator.Validate(store.SpanAt(pointer), key, version, out _));

        // Both acks arrive: the tombstone's publish must leave the other key's entry alone, and the stale pointer
        // then finds a whole entry of another key.
        store.Publish(ulong.MaxValue);
        Assert.Equal(EntryStatus.Ok, EntryValidator.Validate(store.SpanAt(pointer), other, 0, out ValidatedEntry foreign));
        Assert.Equal(otherValue, foreign.ValueOf(store.SpanAt(pointer)).ToArray());
        Assert.Equal(EntryStatus.ForeignKey, EntryValidator.Validate(store.SpanAt(pointer), key, version, out _));
        Assert.False(store.TryLookup(key, out _, out _, out deletePending));
        Assert.False(deletePending);
    }

    [Fact]
    public void ExpiredEntryNotYetReaped_ReadsAsItsOwnValue_WithTheDeadlineForTheReaderToJudge()
    {
        // The store's rule (ValueExpiry, NodeOptions.ExpiryReapInterval, docs/resp.md "Expiry"): the engine does not
        // look at the time on a lookup or a read; one-sided readers validate an expiring entry like any other and
        // check its deadline themselves (passed when at or before now, the reaper's own test), and the reaper only
        // reclaims the slot. Until then the slot is the key's: no other key's write may take it.
        using var store = new StoreEngine(Small);
        byte[] key = "expiring-1"u8.ToArray();
        byte[] value = Value(expiresAt: 1_000, payload: 100, seed: 1);
        Assert.Equal(StoreStatus.Ok, store.Write(key, value).Status);
        Assert.True(store.TryLookup(key, out RemotePointer pointer, out ulong version));
        const long Now = 2_000;

        StoreWriteResult other = store.Write("other-key1"u8, Value(expiresAt: 1_000_000, payload: 100, seed: 2));
        Assert.Equal(StoreStatus.Ok, other.Status);
        Assert.NotEqual(pointer, other.Pointer);

        Assert.True(store.TryLookup(key, out RemotePointer again, out _));
        Assert.Equal(pointer, again);
        Assert.Equal(EntryStatus.Ok, EntryValidator.Validate(store.SpanAt(pointer), key, version, out ValidatedEntry entry));
        ReadOnlySpan<byte> read = entry.ValueOf(store.SpanAt(pointer));
        Assert.Equal(value, read.ToArray());
        Assert.True(ValueExpiry.TryRead(read, out long deadline));
        Assert.True(deadline <= Now, "the reader cannot tell that the value it read has expired");

        Assert.Equal(1, store.ReapExpired(Now, slotBudget: 1_000));
        Assert.False(store.TryLookup(key, out _, out _));
        Assert.Equal(EntryStatus.Deleted, EntryValidator.Validate(store.SpanAt(pointer), key, version, out _));
    }

    [Fact]
    public void StalePointers_ToReapedEntries_NeverValidate_OverRandomDeadlinesSizesAndTimes()
    {
        // Keys of random value sizes (several size classes) and deadlines; after a reap at a random time, a key of
        // the same size is written for each reaped one, which must fill exactly the freed slots.
        Gen.Select(Gen.Select(Gen.Int[0, 100], Gen.Int[0, 2_000]).Array[1, 80], Gen.Int[0, 100]).Sample((entries, now) =>
        {
            using var store = new StoreEngine(Small);
            var pointers = new RemotePointer[entries.Length];
            var versions = new ulong[entries.Length];
            for (int i = 0; i < entries.Length; i++)
            {
                (int expiresAt, int payload) = entries[i];
                Assert.Equal(StoreStatus.Ok, store.Write(KeyOf("k", i), Value(expiresAt, payload, i)).Status);
                Assert.True(store.TryLookup(KeyOf("k", i), out pointers[i], out versions[i]));
            }

            int reaped = store.ReapExpired(now, slotBudget: 1_000_000);

            var freed = new HashSet<RemotePointer>();
            var reused = new HashSet<RemotePointer>();
            for (int i = 0; i < entries.Length; i++)
            {
                (int expiresAt, int payload) = entries[i];
                if (expiresAt <= now)
                {
                    freed.Add(pointers[i]);
                    StoreWriteResult result = store.Write(KeyOf("o", i), Value(1_000_000, payload, entries.Length + i));
                    Assert.Equal(StoreStatus.Ok, result.Status);
                    reused.Add(result.Pointer);
                }
            }

            Assert.Equal(freed.Count, reaped);
            Assert.Equal(freed, reused);
            for (int i = 0; i < entries.Length; i++)
            {
                (int expiresAt, int payload) = entries[i];
                EntryStatus status = EntryValidator.Validate(store.SpanAt(pointers[i]), KeyOf("k", i), versions[i], out ValidatedEntry entry);
                if (expiresAt <= now)
                {
                    Assert.Equal(EntryStatus.ForeignKey, status);
                    Assert.False(store.TryLookup(KeyOf("k", i), out _, out _));
                }
                else
                {
                    Assert.Equal(EntryStatus.Ok, status);
                    Assert.Equal(Value(expiresAt, payload, i), entry.ValueOf(store.SpanAt(pointers[i])).ToArray());
                }
            }
        }, iter: 200);
    }

    private static void Write(StoreEngine store, string key, long expiresAt, int payload)
    {
        var value = new byte[ValueExpiry.Size + payload];
        ValueExpiry.Write(value, expiresAt);
        Assert.Equal(StoreStatus.Ok, store.Write(Encoding.UTF8.GetBytes(key), value).Status);
    }

    // An expiring value: the prefix, then `payload` bytes that differ from key to key (by seed), so that a foreign
    // value cannot pass for a key's own.
    private static byte[] Value(long expiresAt, int payload, int seed)
    {
        var value = new byte[ValueExpiry.Size + payload];
        ValueExpiry.Write(value, expiresAt);
        new Random(seed).NextBytes(value.AsSpan(ValueExpiry.Size));
        return value;
    }

    private static byte[] KeyOf(string prefix, int i) => Encoding.ASCII.GetBytes($"{prefix}-{i:D3}");

    private sealed class CountingSink : IChangeSink
    {
        private ulong _lsn;

        public int Tombstones { get; private set; }

        // Writes stay unpublished (as in sync replication before the secondary's ack) until the test publishes them.
        public bool HoldPublication { get; init; }

        public ulong Append(in SlotChange change)
        {
            Tombstones += change.Flags == EntryFlags.Tombstone ? 1 : 0;
            return HoldPublication ? ++_lsn : 0;
        }

        public void AppendSlabRelease(in RemotePointer slab)
        {
        }

        public void AppendRegion(in RemotePointer region)
        {
        }
    }
}
