using System.Text;
using CsCheck;
using MirrorKv.Memory;

namespace MirrorKv.Store.Tests;

/// <summary>
/// Access by key for a front end that serves values itself: a value seen where it lives, a read-modify-write
/// under one hold of the lock (and replicated like any write), and a scan in address order.
/// </summary>
public sealed class AccessTests : IDisposable
{
    private readonly RecordingSink _changes = new();
    private readonly StoreEngine _store;

    public AccessTests() => _store = new StoreEngine(new StoreOptions { MaxMemory = 4UL << 20, SlabSize = 64 << 10 }, AccessFlags.RemoteRead, _changes);

    public void Dispose() => _store.Dispose();

    [Fact]
    public void TryVisit_SeesTheCurrentValue_AndNothingForAMissingOrInvalidKey()
    {
        _store.Write("k"u8, "v1"u8);
        _store.Write("k"u8, "a much longer value that relocates the key"u8);
        var visitor = new CopyingVisitor();
        Assert.True(_store.TryVisit("k"u8, ref visitor));
        Assert.Equal("a much longer value that relocates the key", visitor.Value);
        Assert.False(_store.TryVisit("missing"u8, ref visitor));
        Assert.False(_store.TryVisit(ReadOnlySpan<byte>.Empty, ref visitor));
    }

    [Fact]
    public void Mutate_KeepWriteDelete_DoWhatTheyDecide_AndOnlyChangesAreReplicated()
    {
        int before = _changes.Count;
        var keep = new Decision(MutationDecision.Keep, "");
        StoreWriteResult kept = _store.Mutate("k"u8, ref keep);
        Assert.Equal((StoreStatus.Ok, WriteKind.None), (kept.Status, kept.Kind));
        Assert.False(keep.Existed);
        Assert.Equal(before, _changes.Count);

        var write = new Decision(MutationDecision.Write, "first");
        Assert.Equal(WriteKind.Inserted, _store.Mutate("k"u8, ref write).Kind);
        var append = new Decision(MutationDecision.Write, "first, second");
        Assert.Equal(WriteKind.UpdatedInPlace, _store.Mutate("k"u8, ref append).Kind);
        Assert.Equal("first", append.Seen);

        var delete = new Decision(MutationDecision.Delete, "");
        Assert.Equal(WriteKind.Deleted, _store.Mutate("k"u8, ref delete).Kind);
        Assert.Equal("first, second", delete.Seen);
        Assert.False(_store.TryLookup("k"u8, out _, out _));
        Assert.Equal(StoreStatus.NotFound, _store.Mutate("k"u8, ref delete).Status);
        Assert.Equal(before + 3, _changes.Count);

        var tooLarge = new Decision(MutationDecision.Write, new string('x', _store.Options.EffectiveMaxValueLength + 1));
        Assert.Equal(StoreStatus.ValueTooLarge, _store.Mutate("k"u8, ref tooLarge).Status);
    }

    [Fact]
    public void Scan_FromAnyCursor_EndsAndShowsEachLiveKeyOnce()
    {
        Gen.Int[1, 300].Select(Gen.Int[1, 40]).Sample((keys, budget) =>
        {
            using var store = new StoreEngine(new StoreOptions { MaxMemory = 1UL << 20, SlabSize = 16 << 10 });
            var expected = new HashSet<string>();
            for (int i = 0; i < keys; i++)
            {
                store.Write(Encoding.ASCII.GetBytes($"k{i}"), new byte[i * 7 % 500]);
                expected.Add($"k{i}");
            }

            for (int i = 0; i < keys; i += 3)
            {
                store.Delete(Encoding.ASCII.GetBytes($"k{i}"));
                expected.Remove($"k{i}");
            }

            var seen = new List<string>();
            var collector = new KeyCollector(seen);
            ulong cursor = 0;
            int calls = 0;
            do
            {
                cursor = store.Scan(cursor, budget, ref collector);
                Assert.True(++calls < 1_000_000);
            }
            while (cursor != 0);

            Assert.Equal(expected.Count, seen.Count);
            Assert.Equal(expected, seen.ToHashSet());
        }, iter: 100);
    }

    [Fact]
    public void Scan_GarbageCursor_StartsAtTheNextSlotOrEnds()
    {
        _store.Write("a"u8, "1"u8);
        var seen = new List<string>();
        var collector = new KeyCollector(seen);
        foreach (ulong cursor in new ulong[] { 1, 3, 17, 4UL << 20, ulong.MaxValue })
        {
            ulong next = _store.Scan(cursor, 1000, ref collector);
            Assert.True(next == 0 || next > cursor);
        }

        Assert.Empty(seen);
        Assert.Equal(0UL, _store.Scan(0, 100_000, ref collector));
        Assert.Equal(["a"], seen);
    }

    private ref struct CopyingVisitor : IValueVisitor
    {
        public string? Value { get; private set; }

        public void Visit(ReadOnlySpan<byte> value) => Value = Encoding.UTF8.GetString(value);
    }

    private sealed class Decision(MutationDecision decision, string value) : IValueMutation
    {
        private readonly byte[] _value = Encoding.UTF8.GetBytes(value);

        public bool Existed { get; private set; }

        public string? Seen { get; private set; }

        public ReadOnlySpan<byte> NewValue => _value;

        public MutationDecision Decide(bool exists, ReadOnlySpan<byte> current)
        {
            Existed = exists;
            Seen = exists ? Encoding.UTF8.GetString(current) : null;
            return decision;
        }
    }

    private readonly struct KeyCollector(List<string> keys) : IEntryVisitor
    {
        public bool Visit(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
        {
            keys.Add(Encoding.ASCII.GetString(key));
            return true;
        }
    }

    private sealed class RecordingSink : IChangeSink
    {
        public int Count { get; private set; }

        public ulong Append(in SlotChange change)
        {
            Count++;
            return 0;
        }

        public void AppendSlabRelease(in RemotePointer slab) => Count++;

        public void AppendRegion(in RemotePointer region)
        {
        }
    }
}
