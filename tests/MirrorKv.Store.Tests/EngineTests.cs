using System.Text;
using MirrorKv.Entries;
using MirrorKv.Memory;

namespace MirrorKv.Store.Tests;

/// <summary>The store engine's operations, its limits, and the slot reuse rule seen by one-sided readers.</summary>
public sealed class EngineTests : IDisposable
{
    private readonly RegionRegistry _registry = new();
    private readonly StoreEngine _store;

    public EngineTests() => _store = new(new StoreOptions { MaxMemory = 4UL << 20, SlabSize = 64 << 10 }, registry: _registry);

    public void Dispose() => _store.Dispose();

    [Fact]
    public void Write_NewKey_IsInsertedWithPointerToWholeSlot()
    {
        StoreWriteResult w = _store.Write("a"u8, "1"u8);
        Assert.Equal((StoreStatus.Ok, WriteKind.Inserted), (w.Status, w.Kind));
        Assert.Equal(_store.Regions[0].RKey, w.Pointer.RKey);
        Assert.Equal(32u, w.Pointer.Length);
        Assert.Equal((EntryStatus.Ok, "1"), Read(w.Pointer, "a"));
    }

    [Fact]
    public void Write_Fits_UpdatesInPlaceWithHigherVersion()
    {
        StoreWriteResult first = _store.Write("k"u8, Bytes(100));
        StoreWriteResult second = _store.Write("k"u8, Bytes(110, 'b'));
        Assert.Equal(WriteKind.UpdatedInPlace, second.Kind);
        Assert.Equal(first.Pointer, second.Pointer);
        Assert.True(second.Version > first.Version);
        Assert.Equal(EntryStatus.Ok, Read(second.Pointer, "k").Status);
    }

    [Fact]
    public void Write_Outgrows_RelocatesAndTombstonesOldSlot()
    {
        StoreWriteResult first = _store.Write("k"u8, Bytes(100));
        StoreWriteResult grown = _store.Write("k"u8, Bytes(2000));
        Assert.Equal(WriteKind.Relocated, grown.Kind);
        Assert.NotEqual(first.Pointer, grown.Pointer);
        Assert.Equal(first.Pointer, grown.PreviousPointer);
        Assert.Equal(EntryStatus.Deleted, Read(first.Pointer, "k").Status);
        Assert.Equal(EntryStatus.Ok, Read(grown.Pointer, "k").Status);

        StoreWriteResult shrunk = _store.Write("k"u8, Bytes(10));
        Assert.Equal(WriteKind.Relocated, shrunk.Kind);
        Assert.True(shrunk.Pointer.Length < grown.Pointer.Length);
    }

    [Fact]
    public void Delete_Tombstones_UnindexesAndReportsNotFoundAfter()
    {
        StoreWriteResult w = _store.Write("k"u8, "v"u8);
        StoreWriteResult d = _store.Delete("k"u8);
        Assert.Equal(WriteKind.Deleted, d.Kind);
        Assert.False(_store.TryLookup("k"u8, out _, out _));
        Assert.Equal(EntryStatus.Deleted, Read(w.Pointer, "k").Status);
        Assert.Equal(StoreStatus.NotFound, _store.Delete("k"u8).Status);
        Assert.Equal(StoreStatus.NotFound, _store.Update("k"u8, "v"u8).Status);
    }

    [Fact]
    public void Limits_GetNamedStatuses()
    {
        Assert.Equal(StoreStatus.EmptyKey, _store.Write([], "v"u8).Status);
        Assert.Equal(StoreStatus.KeyTooLong, _store.Write(new byte[1025], "v"u8).Status);
        Assert.Equal(StoreStatus.ValueTooLarge, _store.Write("k"u8, new byte[_store.Options.EffectiveMaxValueLength + 1]).Status);

        // The largest entry must fit the largest chunk, which MaxMemory caps.
        Assert.Throws<ArgumentException>(() => new StoreEngine(new StoreOptions { MaxMemory = 3 << 20, SlabSize = 1 << 20, MaxValueLength = 3 << 20 }));
        Assert.Throws<ArgumentException>(() => new StoreEngine(new StoreOptions { MaxValueLength = StoreOptions.MaxValueLengthLimit + 1 }));
    }

    [Fact]
    public void OutOfMemory_LeavesExistingEntriesIntact()
    {
        using var tiny = new StoreEngine(new StoreOptions { MaxMemory = 128 << 10, SlabSize = 64 << 10 });
        var written = new List<(string Key, RemotePointer Pointer)>();
        StoreWriteResult w;
        int i = 0;
        while ((w = tiny.Write(Encoding.ASCII.GetBytes($"k{i}"), Bytes(100))).IsOk)
        {
            written.Add(($"k{i++}", w.Pointer));
        }

        Assert.Equal(StoreStatus.OutOfMemory, w.Status);
        Assert.Equal(StoreStatus.OutOfMemory, tiny.Write("k0"u8, Bytes(5000)).Status);
        foreach ((string key, RemotePointer pointer) in written)
        {
            Span<byte> slot = tiny.SpanAt(pointer);
            Assert.Equal(EntryStatus.Ok, EntryValidator.Validate(slot, Encoding.ASCII.GetBytes(key), 0, out _));
        }
    }

    [Fact]
    public void Versions_GrowAcrossEveryOperation()
    {
        ulong last = 0;
        foreach (StoreWriteResult r in new[] { _store.Write("a"u8, "1"u8), _store.Write("b"u8, "2"u8), _store.Write("a"u8, Bytes(900)), _store.Delete("b"u8), _store.Write("b"u8, "3"u8) })
        {
            Assert.True(r.Version > last);
            last = r.Version;
        }

        Assert.Equal(last, _store.GetStats().LastVersion);
    }

    [Fact]
    public void SlotReuse_ReaderWithOldPointer_SeesForeignKeyOrNewerVersion_NeverOldValue()
    {
        StoreWriteResult a = _store.Write("key-a"u8, Bytes(50, 'a'));
        _store.Delete("key-a"u8);
        StoreWriteResult b = _store.Write("key-b"u8, Bytes(50, 'b'));
        Assert.Equal(a.Pointer, b.Pointer);
        Assert.Equal(EntryStatus.ForeignKey, Read(a.Pointer, "key-a").Status);

        _store.Delete("key-b"u8);
        StoreWriteResult again = _store.Write("key-a"u8, Bytes(50, 'c'));
        Assert.Equal(a.Pointer, again.Pointer);
        Assert.True(again.Version > b.Version && b.Version > a.Version);
        Assert.Equal((EntryStatus.Ok, new string('c', 50)), Read(a.Pointer, "key-a", minVersion: a.Version));

        // A copy taken before the reuse is older than what the reader saw acknowledged since: Stale.
        byte[] oldCopy = Copy(a.Pointer);
        _store.Write("key-a"u8, Bytes(50, 'd'));
        Assert.Equal(EntryStatus.Stale, EntryValidator.Validate(oldCopy, "key-a"u8, again.Version + 2, out _));
    }

    [Fact]
    public void Stats_CountEntriesSlabsAndIndex()
    {
        for (int i = 0; i < 100; i++)
        {
            _store.Write(Encoding.ASCII.GetBytes($"k{i}"), Bytes(100));
        }

        _store.Delete("k0"u8);
        StoreStats stats = _store.GetStats();
        Assert.Equal(99, stats.Entries);
        Assert.Equal(1, stats.ClaimedSlabs);
        Assert.Equal(1, stats.FreeSlots);
        Assert.Equal(99 * 144, stats.SlotBytesInUse);
        Assert.Equal((64 << 10) + stats.IndexBytes, stats.UsedBytes);
        Assert.Equal([0], _store.GetClaimedSlabs());
    }

    private static byte[] Bytes(int length, char c = 'x') => Encoding.ASCII.GetBytes(new string(c, length));

    private byte[] Copy(RemotePointer pointer) =>
        _registry.ResolveOrThrow(pointer, AccessFlags.RemoteRead, AccessFlags.RemoteRead).ToArray();

    private (EntryStatus Status, string Value) Read(RemotePointer pointer, string key, ulong minVersion = 0)
    {
        byte[] copy = Copy(pointer);
        EntryStatus status = EntryValidator.Validate(copy, Encoding.ASCII.GetBytes(key), minVersion, out ValidatedEntry e);
        return (status, status == EntryStatus.Ok ? Encoding.ASCII.GetString(e.ValueOf(copy)) : "");
    }
}
