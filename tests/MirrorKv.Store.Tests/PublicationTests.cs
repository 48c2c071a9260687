using System.Text;
using MirrorKv.Entries;
using MirrorKv.Memory;
using MirrorKv.Store;

namespace MirrorKv.Store.Tests;

/// <summary>
/// Publish after replication at the store: an entry written while the stream waits for a secondary is unreadable
/// one-sided (odd version) until <see cref="StoreEngine.Publish"/> covers its LSN; the owner still sees it whole.
/// </summary>
public class PublicationTests
{
    // Where a pointer lies in the store's memory (its chunks laid end to end), as the engine counts offsets.
    private static ulong OffsetOf(StoreEngine store, RemotePointer pointer) =>
        store.Memory.TryGetOffset(pointer.RKey, pointer.Address, out ulong offset) ? offset : throw new InvalidOperationException($"{pointer} is in no chunk of the store");

    private static readonly StoreOptions Small = new() { MaxMemory = 4UL << 20, SlabSize = 64 << 10 };

    [Fact]
    public void Write_WhileTheStreamWaits_IsTornForReadersUntilPublished()
    {
        var sink = new LsnSink { Wait = true };
        using var store = new StoreEngine(Small, changes: sink);
        StoreWriteResult w = store.Write("k"u8, "v1"u8);
        Assert.Equal(EntryStatus.Torn, Read(store, w.Pointer, "k", out _));
        Assert.True(store.TryLookup("k"u8, out RemotePointer p, out ulong version, out bool pending));
        Assert.True(pending);
        Assert.Equal((w.Pointer, w.Version), (p, version));

        Assert.Equal(1, store.Publish(sink.Lsn));
        Assert.Equal(EntryStatus.Ok, Read(store, w.Pointer, "k", out string value));
        Assert.Equal("v1", value);
        Assert.Equal(0, store.PendingCount);
    }

    [Fact]
    public void Write_WithNothingToWaitFor_IsReadableAtOnce()
    {
        using var store = new StoreEngine(Small, changes: new LsnSink { Wait = false });
        StoreWriteResult w = store.Write("k"u8, "v1"u8);
        Assert.Equal(EntryStatus.Ok, Read(store, w.Pointer, "k", out _));
        Assert.Equal(0, store.PendingCount);
    }

    [Fact]
    public void InPlaceOverwrite_BeforeTheFirstAck_StaysTornUntilItsOwnLsnIsPublished()
    {
        var sink = new LsnSink { Wait = true };
        using var store = new StoreEngine(Small, changes: sink);
        StoreWriteResult first = store.Write("k"u8, "v1"u8);
        ulong firstLsn = sink.Lsn;
        StoreWriteResult second = store.Write("k"u8, "v2"u8, first.Pointer);
        Assert.Equal(WriteKind.UpdatedInPlace, second.Kind);
        Assert.Equal(1, store.ResolvedByPointer);

        // The first ack must not publish the slot: it holds the second write's body now.
        Assert.Equal(0, store.Publish(firstLsn));
        Assert.Equal(EntryStatus.Torn, Read(store, second.Pointer, "k", out _));
        Assert.Equal(1, store.Publish(sink.Lsn));
        Assert.Equal(EntryStatus.Ok, Read(store, second.Pointer, "k", out string value));
        Assert.Equal("v2", value);
    }

    [Fact]
    public void Relocation_OldSlotIsTombstonedPending_AndNewSlotPublishedWithIt()
    {
        var sink = new LsnSink { Wait = true };
        using var store = new StoreEngine(Small, changes: sink);
        StoreWriteResult small = store.Write("k"u8, "v"u8);
        store.Publish(sink.Lsn);
        StoreWriteResult big = store.Write("k"u8, Encoding.ASCII.GetBytes(new string('x', 500)));
        Assert.Equal(WriteKind.Relocated, big.Kind);
        Assert.Equal(EntryStatus.Torn, Read(store, small.Pointer, "k", out _));
        Assert.Equal(EntryStatus.Torn, Read(store, big.Pointer, "k", out _));
        Assert.Equal(2, store.Publish(sink.Lsn));
        Assert.Equal(EntryStatus.Deleted, Read(store, small.Pointer, "k", out _));
        Assert.Equal(EntryStatus.Ok, Read(store, big.Pointer, "k", out _));
    }

    [Fact]
    public void Delete_IsTornUntilPublished_ThenDeleted()
    {
        var sink = new LsnSink { Wait = true };
        using var store = new StoreEngine(Small, changes: sink);
        StoreWriteResult w = store.Write("k"u8, "v"u8);
        store.Publish(sink.Lsn);
        store.Delete("k"u8);
        Assert.Equal(EntryStatus.Torn, Read(store, w.Pointer, "k", out _));
        store.Publish(ulong.MaxValue);
        Assert.Equal(EntryStatus.Deleted, Read(store, w.Pointer, "k", out _));
    }

    [Fact]
    public void LookupAndVisit_OfAKeyDeletedPending_ReportTheAbsenceAsPendingUntilPublished()
    {
        var sink = new LsnSink { Wait = true };
        using var store = new StoreEngine(Small, changes: sink);
        store.Write("k"u8, "v"u8);
        store.Write("other"u8, "v"u8);
        store.Delete("gone"u8);
        store.Publish(sink.Lsn);
        Assert.Equal(StoreStatus.Ok, store.Delete("k"u8).Status);

        Assert.False(store.TryLookup("k"u8, out _, out _, out bool pending));
        Assert.True(pending, "a delete the secondary does not hold yet was answered as published");
        var visitor = new Capture();
        Assert.False(store.TryVisit("k"u8, ref visitor, out pending));
        Assert.True(pending);

        // Another key's pending delete, or a key never written, holds nothing.
        Assert.False(store.TryLookup("never"u8, out _, out _, out pending));
        Assert.False(pending);
        Assert.False(store.TryVisit("gone"u8, ref visitor, out pending));
        Assert.False(pending);

        store.Publish(sink.Lsn);
        Assert.False(store.TryLookup("k"u8, out _, out _, out pending));
        Assert.False(pending);
    }

    [Fact]
    public void OwnerAccess_SeesPendingEntriesWhole()
    {
        var sink = new LsnSink { Wait = true };
        using var store = new StoreEngine(Small, changes: sink);
        store.Write("k"u8, "v1"u8);
        var visitor = new Capture();
        Assert.True(store.TryVisit("k"u8, ref visitor, out bool pending));
        Assert.True(pending);
        Assert.Equal("v1", visitor.Value);
        var keys = new Keys();
        store.Scan(0, 10_000, ref keys);
        Assert.Equal(["k"], keys.Seen);
    }

    [Fact]
    public void WriteAndPublish_InSteadyState_AllocateNothing()
    {
        var sink = new LsnSink { Wait = true };
        using var store = new StoreEngine(Small, changes: sink);
        StoreWriteResult w = store.Write("k"u8, "v1"u8);
        WriteAndPublish(store, sink, w.Pointer, 1_000);

        // A round of 10,000 writes allocates nothing once the runtime is done with the code: one round in three must
        // be clean.
        IReadOnlyList<long> rounds = SteadyStateAllocations.Rounds(() => WriteAndPublish(store, sink, w.Pointer, 10_000));

        Assert.True(rounds[^1] == 0, $"bytes allocated per round of 10,000 writes: {string.Join(", ", rounds)}");
    }

    private static void WriteAndPublish(StoreEngine store, LsnSink sink, RemotePointer at, int count)
    {
        for (int i = 0; i < count; i++)
        {
            store.Write("k"u8, "v2"u8, at);
            if (i % 8 == 7)
            {
                store.Publish(sink.Lsn);
            }
        }
    }

    [Fact]
    public void SlabEmptiedByUnpublishedDeletes_GoesToAnotherClassAtOnce_AndTheDeletesStayUnpublishedUntilTheirAck()
    {
        // The calcification case with every delete waiting for the secondary: the slab they emptied is scrubbed and
        // handed to another class before the ack (a store full of such slots does not refuse writes for a round
        // trip), its release record follows the deletes, and the deleted keys' absence still waits for the ack.
        var sink = new LsnSink { Wait = true };
        using var store = new StoreEngine(Small, changes: sink);
        var pointers = new List<RemotePointer>();
        for (int i = 0; ; i++)
        {
            StoreWriteResult w = store.Write(Encoding.ASCII.GetBytes($"small{i}"), new byte[100]);
            if (w.Status == StoreStatus.OutOfMemory)
            {
                break;
            }

            Assert.Equal(StoreStatus.Ok, w.Status);
            pointers.Add(w.Pointer);
        }

        store.Publish(sink.Lsn);
        for (int i = 0; i < pointers.Count; i++)
        {
            Assert.Equal(StoreStatus.Ok, store.Delete(Encoding.ASCII.GetBytes($"small{i}")).Status);
        }

        ulong deletesLsn = sink.Lsn;
        StoreWriteResult large = store.Write("large"u8, new byte[1000]);
        Assert.Equal(StoreStatus.Ok, large.Status);
        Assert.Equal(1, sink.SlabReleases);
        Assert.True(sink.SlabReleasedAt > deletesLsn);

        // Every small key, the ones whose slab went to the large class included: absent, and not yet for readers.
        ulong released = OffsetOf(store, large.Pointer) / (ulong)Small.SlabSize;
        int inReleased = 0;
        for (int i = 0; i < pointers.Count; i++)
        {
            Assert.False(store.TryLookup(Encoding.ASCII.GetBytes($"small{i}"), out _, out _, out bool pending));
            Assert.True(pending, $"small{i}: a delete the secondary does not hold was answered as published");
            Assert.NotEqual(EntryStatus.Ok, Read(store, pointers[i], $"small{i}", out _));
            inReleased += OffsetOf(store, pointers[i]) / (ulong)Small.SlabSize == released ? 1 : 0;
        }

        Assert.True(inReleased > 0);

        // The ack publishes the tombstones still in their slots and leaves the released slab's new class alone.
        Assert.Equal(pointers.Count - inReleased, store.Publish(deletesLsn));
        Assert.Equal(EntryStatus.Torn, Read(store, large.Pointer, "large", out _));
        Assert.False(store.TryLookup("small0"u8, out _, out _, out bool stillPending));
        Assert.False(stillPending);
        Assert.Equal(1, store.Publish(sink.Lsn));
        Assert.Equal(EntryStatus.Ok, Read(store, large.Pointer, "large", out _));
    }

    private static EntryStatus Read(StoreEngine store, RemotePointer p, string key, out string value)
    {
        byte[] copy = store.Memory.GetSpan(OffsetOf(store, p), (int)p.Length).ToArray();
        EntryStatus status = EntryValidator.Validate(copy, Encoding.ASCII.GetBytes(key), 0, out ValidatedEntry entry);
        value = status == EntryStatus.Ok ? Encoding.ASCII.GetString(copy, entry.ValueOffset, entry.ValueLength) : "";
        return status;
    }

    private sealed class LsnSink : IChangeSink
    {
        public bool Wait { get; init; }

        public ulong Lsn { get; private set; }

        public ulong Append(in SlotChange change) => Wait ? ++Lsn : 0;

        public int SlabReleases { get; private set; }

        public ulong SlabReleasedAt { get; private set; }

        public void AppendSlabRelease(in RemotePointer slab)
        {
            SlabReleases++;
            SlabReleasedAt = ++Lsn;
        }

        // A region record takes an LSN as in the real stream; nothing of it waits for publication.
        public void AppendRegion(in RemotePointer region) => ++Lsn;
    }

    private struct Capture : IValueVisitor
    {
        public string Value;

        public void Visit(ReadOnlySpan<byte> value) => Value = Encoding.ASCII.GetString(value);
    }

    private struct Keys : IEntryVisitor
    {
        public Keys() => Seen = [];

        public List<string> Seen;

        public readonly bool Visit(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
        {
            Seen.Add(Encoding.ASCII.GetString(key));
            return true;
        }
    }
}
