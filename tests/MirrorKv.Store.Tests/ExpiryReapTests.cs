using MirrorKv.Entries;
using MirrorKv.Memory;
using System.Text;
using CsCheck;

namespace MirrorKv.Store.Tests;

/// <summary>The reaper deletes exactly the live entries whose expiry prefix has passed, a budget at a time.</summary>
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

    private static void Write(StoreEngine store, string key, long expiresAt, int payload)
    {
        var value = new byte[ValueExpiry.Size + payload];
        ValueExpiry.Write(value, expiresAt);
        Assert.Equal(StoreStatus.Ok, store.Write(Encoding.UTF8.GetBytes(key), value).Status);
    }

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
