using System.Text;
using MirrorKv.Entries;
using MirrorKv.Memory;

namespace MirrorKv.Store.Tests;

/// <summary>
/// Automove: under allkeys-lru and allkeys-lfu a size class that must evict takes slabs from a class whose entries
/// stay much longer, so that a shift of the workload to another value size is followed, not calcified; two classes
/// under the same load keep their share; and no move leaves a pointer anything it could accept but its own value.
/// </summary>
public sealed class AutomoveTests
{
    // 32 slabs of 16 KiB: 113 slots of 144 bytes (100 B values) or 14 of 1,152 bytes (1,000 B values) per slab.
    private static readonly StoreOptions Small = new() { MaxMemory = 512UL << 10, SlabSize = 16 << 10, MaxKeyLength = 64 };

    [Theory]
    [InlineData(EvictionPolicy.AllKeysLru)]
    [InlineData(EvictionPolicy.AllKeysLfu)]
    public void ShiftToLargerValues_TheLargeClassTakesSlabs_AndHoldsItsWorkingSet(EvictionPolicy policy)
    {
        using var store = new StoreEngine(Small with { Eviction = policy });
        (int small, int large) = (ValueSize(100), ValueSize(1000));

        // Every slab goes to the small class, then the load moves to large values only: 160 keys cycled, a third of
        // the store. Without automove the large class keeps the one slab it emptied for itself: 14 of the 160 stay.
        WriteUntilEvicting(store, "s", small, extra: 2_000);
        for (int round = 0; round < 30; round++)
        {
            for (int i = 0; i < 160; i++)
            {
                Assert.Equal(StoreStatus.Ok, store.Write(Key("l", i), Value(i, large)).Status);
            }
        }

        int held = Enumerable.Range(0, 160).Count(i => store.TryLookup(Key("l", i), out _, out _));
        Assert.True(held >= 150, $"the large class holds {held} of its 160 keys after the shift ({store.SlabsAutomoved} slabs automoved)");
        Assert.True(store.SlabsAutomoved >= 10, $"{store.SlabsAutomoved} slabs automoved");
        AssertEveryLiveKeyReadsItsOwnValue(store, "s", 10_000, small);
        AssertEveryLiveKeyReadsItsOwnValue(store, "l", 160, large);
    }

    [Fact]
    public void TwoClassesUnderTheSameLoad_KeepTheirShare_NeitherStarves()
    {
        using var store = new StoreEngine(Small with { Eviction = EvictionPolicy.AllKeysLru });
        (int small, int large) = (ValueSize(100), ValueSize(1000));

        // Interleaved writes of new keys of both sizes, many times the store: each class evicts at the rate it
        // writes, so their entries stay alike and the slabs settle instead of draining one class.
        for (int i = 0; i < 40_000; i++)
        {
            Assert.Equal(StoreStatus.Ok, store.Write(Key("s", i), Value(i, small)).Status);
            if (i % 4 == 0)
            {
                Assert.Equal(StoreStatus.Ok, store.Write(Key("l", i), Value(i, large)).Status);
            }
        }

        int smallHeld = Enumerable.Range(0, 40_000).Count(i => store.TryLookup(Key("s", i), out _, out _));
        int largeHeld = Enumerable.Range(0, 40_000).Count(i => i % 4 == 0 && store.TryLookup(Key("l", i), out _, out _));

        // Equal residence: the small class writes 4 keys per large one, so holds about 4 times as many keys; each
        // keeps at least a quarter of that ideal (a class drained to one slab would hold 113 or 14).
        double ideal = (double)(smallHeld + largeHeld) / 5;
        Assert.True(largeHeld >= ideal / 4, $"large held {largeHeld}, small {smallHeld}");
        Assert.True(smallHeld >= 4 * ideal / 4, $"large held {largeHeld}, small {smallHeld}");
        AssertEveryLiveKeyReadsItsOwnValue(store, "s", 40_000, small);
    }

    [Fact]
    public void NoEviction_NeverAutomoves()
    {
        using var store = new StoreEngine(Small);
        WriteUntilEvicting(store, "s", ValueSize(100), extra: 0);
        Assert.Equal(0, store.SlabsAutomoved);
    }

    [Fact]
    public void PointersIntoAutomovedSlabs_NeverValidateAsAnotherKey()
    {
        using var store = new StoreEngine(Small with { Eviction = EvictionPolicy.AllKeysLru });
        (int small, int large) = (ValueSize(100), ValueSize(1000));
        var pointers = new List<(byte[] Key, RemotePointer Pointer)>();
        for (int i = 0; store.Evictions == 0; i++)
        {
            Assert.Equal(StoreStatus.Ok, store.Write(Key("s", i), Value(i, small)).Status);
            Assert.True(store.TryLookup(Key("s", i), out RemotePointer pointer, out _));
            pointers.Add((Key("s", i), pointer));
        }

        for (int round = 0; round < 30; round++)
        {
            for (int i = 0; i < 160; i++)
            {
                store.Write(Key("l", i), Value(i, large));
            }
        }

        Assert.True(store.SlabsAutomoved > 0);
        int stale = 0;
        foreach ((byte[] key, RemotePointer pointer) in pointers)
        {
            // Through the old pointer with the old slot length, as a client's table holds it.
            EntryStatus status = EntryValidator.Validate(store.SpanAt(pointer), key, 0, out ValidatedEntry entry);
            if (status == EntryStatus.Ok)
            {
                Assert.Equal(Value(int.Parse(Encoding.ASCII.GetString(key)[2..]), small), store.SpanAt(pointer).Slice(entry.ValueOffset, entry.ValueLength).ToArray());
            }
            else
            {
                stale++;
            }
        }

        Assert.True(stale > 0, "no pointer went stale: nothing was moved away from the small class");
    }

    private static void WriteUntilEvicting(StoreEngine store, string prefix, int valueSize, int extra)
    {
        int i = 0;
        while (store.Evictions == 0)
        {
            if (store.Write(Key(prefix, i), Value(i, valueSize)).Status != StoreStatus.Ok)
            {
                return;
            }

            i++;
        }

        for (int end = i + extra; i < end; i++)
        {
            Assert.Equal(StoreStatus.Ok, store.Write(Key(prefix, i), Value(i, valueSize)).Status);
        }
    }

    private static void AssertEveryLiveKeyReadsItsOwnValue(StoreEngine store, string prefix, int keys, int valueSize)
    {
        for (int i = 0; i < keys; i++)
        {
            if (store.TryLookup(Key(prefix, i), out RemotePointer pointer, out _))
            {
                Assert.Equal(EntryStatus.Ok, EntryValidator.Validate(store.SpanAt(pointer), Key(prefix, i), 0, out ValidatedEntry entry));
                Assert.Equal(Value(i, valueSize), store.SpanAt(pointer).Slice(entry.ValueOffset, entry.ValueLength).ToArray());
            }
        }
    }

    private static int ValueSize(int size) => size;

    private static byte[] Key(string prefix, int i) => Encoding.ASCII.GetBytes($"{prefix}-{i:D6}");

    // Distinct per key, so that a foreign value cannot pass for the key's own.
    private static byte[] Value(int i, int size)
    {
        var value = new byte[size];
        BitConverter.TryWriteBytes(value, i);
        value[^1] = (byte)i;
        return value;
    }
}
