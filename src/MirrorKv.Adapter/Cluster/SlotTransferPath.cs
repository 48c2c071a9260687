using System.Buffers;
using MirrorKv.Entries;
using MirrorKv.Protocol;
using MirrorKv.Store;
using MirrorKv.Transport;

namespace MirrorKv.Adapter;

/// <summary>
/// A cluster node's side of a slot move (protocol 1.4, docs/scale-out.md "Moving slots"): SLOT_EXPORT pages out the
/// entries of slots moving away from its pair, SLOT_IMPORT writes such a page at the pair they move to, SLOT_RETIRE
/// deletes the moved entries at the source in handoff. Each is served by a primary only, and only in the phase of
/// the node's map that allows it (else SlotsNotMoving naming the node's map version: the mover waits for the
/// node's watch). Import and retire are answered once the secondary holds what they wrote.
/// </summary>
/// <remarks>Runs on the receive thread of the mover's connection; not on any client's hot path.</remarks>
internal sealed class SlotTransferPath(StoreEngine store, RoleMachine role, ReplicationStream log, AckWaiters waiters, ReplicationMode mode, ClusterGate cluster, NodeCounters counters)
{
    // Slots examined per hold of the store lock while a page is gathered: client writes of other slots wait at most
    // this many slot checks.
    private const int ScanBudget = 4096;

    public void Handle(IConnection connection, uint maxFrameSize, Opcode opcode, ulong requestId, ReadOnlySpan<byte> payload)
    {
        (NodeRole current, ulong epoch) = role.Current;
        if (current != NodeRole.Primary)
        {
            Replies.Error(connection, opcode, requestId, WireStatus.NotPrimary, $"this node is {current} at epoch {epoch}: a slot move talks to the pair's primary");
            return;
        }

        switch (opcode)
        {
            case Opcode.SlotExport:
                Export(connection, maxFrameSize, requestId, payload);
                break;
            case Opcode.SlotImport:
                Import(connection, requestId, payload);
                break;
            default:
                Retire(connection, requestId, payload);
                break;
        }
    }

    private void Export(IConnection connection, uint maxFrameSize, ulong requestId, ReadOnlySpan<byte> payload)
    {
        if (SlotTransferMessages.TryReadExportRequest(payload, out int first, out int last, out uint maxBytes, out ulong cursor) != WireStatus.Ok)
        {
            Replies.Error(connection, Opcode.SlotExport, requestId, WireStatus.MalformedFrame, $"SLOT_EXPORT payload must be {SlotTransferMessages.ExportRequestSize} bytes: first slot <= last slot < {HashSlot.Count}, bytes, cursor, 8 reserved bytes of 0");
            return;
        }

        if (!Moving(connection, Opcode.SlotExport, requestId, first, last, away: true, MigrationPhase.Copy, MigrationPhase.Handoff))
        {
            return;
        }

        // The fence is up in the view checked above; a write that passed its check before it may still be on its
        // way into the store. Once drained, what the scan finds of these slots is final.
        cluster.DrainWrites();
        int maxEntry = SlotTransferMessages.EntrySize(store.Options.MaxKeyLength, store.Options.EffectiveMaxValueLength);
        int limit = (int)Math.Min(Math.Min((long)maxBytes, (long)maxFrameSize - FrameHeader.Size) - SlotTransferMessages.PageHeaderSize, int.MaxValue);
        if (limit < maxEntry)
        {
            Replies.Error(connection, Opcode.SlotExport, requestId, WireStatus.TooLong, $"a page must have room for the largest entry ({maxEntry} bytes); asked for {maxBytes}, frames of {maxFrameSize}");
            return;
        }

        var page = new PageCollector(first, last, limit, maxEntry, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        try
        {
            do
            {
                cursor = store.Scan(cursor, ScanBudget, ref page);
            }
            while (cursor != 0 && !page.Full);

            Span<byte> reply = connection.BeginPost(Opcode.SlotExport | Opcode.ReplyBit, WireStatus.Ok, requestId, SlotTransferMessages.PageHeaderSize + page.Written);
            SlotTransferMessages.WriteExportHeader(reply, cursor, page.Count);
            page.Entries.CopyTo(reply[SlotTransferMessages.PageHeaderSize..]);
            connection.EndPost();
            Interlocked.Add(ref counters.SlotEntriesExported, page.Count);
        }
        finally
        {
            page.Return();
        }
    }

    private void Import(IConnection connection, ulong requestId, ReadOnlySpan<byte> payload)
    {
        if (SlotTransferMessages.TryReadImportRequest(payload, out int first, out int last, out int count, out ReadOnlySpan<byte> entries) != WireStatus.Ok)
        {
            Replies.Error(connection, Opcode.SlotImport, requestId, WireStatus.MalformedFrame, "SLOT_IMPORT payload is malformed: a 16-byte header (first slot <= last slot, count, 8 reserved bytes of 0), then exactly count entries");
            return;
        }

        if (!Moving(connection, Opcode.SlotImport, requestId, first, last, away: false, MigrationPhase.Copy, MigrationPhase.Handoff))
        {
            return;
        }

        // Every key must be of the range before anything is written: a page is imported whole or not at all.
        ReadOnlySpan<byte> check = entries;
        while (SlotTransferMessages.TryTakeEntry(ref check, out ReadOnlySpan<byte> key, out _))
        {
            int slot = HashSlot.Of(key);
            if (slot < first || slot > last)
            {
                Replies.Error(connection, Opcode.SlotImport, requestId, WireStatus.MalformedFrame, $"SLOT_IMPORT of slots {first}-{last} holds a key of slot {slot}");
                return;
            }
        }

        int written = 0;
        while (SlotTransferMessages.TryTakeEntry(ref entries, out ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value))
        {
            StoreWriteResult result = store.Write(key, value);
            if (!result.IsOk)
            {
                // What was written stays: the mover sends the page again (imports overwrite), or stops and says why.
                Replies.Error(connection, Opcode.SlotImport, requestId, Replies.ToWire(result.Status), $"SLOT_IMPORT wrote {written} of {count} entries, then: {(result.Status == StoreStatus.OutOfMemory ? FullStoreText.For(store.Options.Eviction) : result.Status.ToString())}");
                return;
            }

            written++;
        }

        Interlocked.Add(ref counters.SlotEntriesImported, written);
        var reply = new byte[SlotTransferMessages.ImportReplySize];
        SlotTransferMessages.WriteImportReply(reply, written);
        Answer(connection, Opcode.SlotImport, requestId, reply);
    }

    private void Retire(IConnection connection, ulong requestId, ReadOnlySpan<byte> payload)
    {
        if (SlotTransferMessages.TryReadRetireRequest(payload, out int first, out int last, out uint maxEntries, out ulong cursor) != WireStatus.Ok || maxEntries == 0)
        {
            Replies.Error(connection, Opcode.SlotRetire, requestId, WireStatus.MalformedFrame, $"SLOT_RETIRE payload must be {SlotTransferMessages.RetireSize} bytes: first slot <= last slot < {HashSlot.Count}, most entries (at least 1), cursor");
            return;
        }

        if (!Moving(connection, Opcode.SlotRetire, requestId, first, last, away: true, MigrationPhase.Handoff, MigrationPhase.Handoff))
        {
            return;
        }

        cluster.DrainWrites();
        var keys = new KeyCollector(first, last, (int)Math.Min(maxEntries, 65536));
        do
        {
            cursor = store.Scan(cursor, ScanBudget, ref keys);
        }
        while (cursor != 0 && !keys.Full);

        // Deleted through the replication stream like any delete: the secondary drops them too, and a one-sided
        // pointer into them (at either node) now finds a tombstone or another key, so its reader looks the key up
        // and is sent to the new owner.
        int deleted = 0;
        foreach (byte[] key in keys.Keys)
        {
            deleted += store.Delete(key).IsOk ? 1 : 0;
        }

        Interlocked.Add(ref counters.SlotEntriesRetired, deleted);
        var reply = new byte[SlotTransferMessages.RetireSize];
        SlotTransferMessages.WriteRetireReply(reply, cursor, deleted);
        Answer(connection, Opcode.SlotRetire, requestId, reply);
    }

    // Whether every slot of first-last is moving away from (or into) this node's pair in one of the phases given;
    // if not, the refusal is sent.
    private bool Moving(IConnection connection, Opcode opcode, ulong requestId, int first, int last, bool away, MigrationPhase phase1, MigrationPhase phase2)
    {
        ClusterView view = cluster.View!;
        for (int slot = first; slot <= last; slot++)
        {
            MigrationPhase phase = view.Map.MigrationOf(slot, out int target);
            bool mine = away ? view.Map.OwnerIndex(slot) == view.MyIndex : target == view.MyIndex;
            if (!mine || (phase != phase1 && phase != phase2))
            {
                string direction = away ? "away from" : "into";
                string phases = phase1 == phase2 ? phase1.ToString().ToLowerInvariant() : $"{phase1.ToString().ToLowerInvariant()} or {phase2.ToString().ToLowerInvariant()}";
                Replies.Error(connection, opcode, requestId, WireStatus.SlotsNotMoving, $"map version {view.Map.Version}: slot {slot} is not moving {direction} pair {cluster.PairId} in phase {phases} ({view.Map.Ranges.FirstOrDefault(r => r.First <= slot && slot <= r.Last)})");
                return false;
            }
        }

        return true;
    }

    private void Answer(IConnection connection, Opcode opcode, ulong requestId, byte[] reply)
    {
        if (mode == ReplicationMode.Sync && (log.Peer is not null || waiters.Holding) && waiters.TryWait(log.LastLsn, new HeldReply(connection, opcode, requestId, reply)))
        {
            return;
        }

        HeldReply.Post(connection, opcode, requestId, reply);
    }

    // Gathers the live, unexpired entries of slots first-last into a rented page, up to limit bytes: it stops once
    // the largest entry might not fit, so the entry the scan shows last is always taken.
    private sealed class PageCollector(int first, int last, int limit, int maxEntry, long nowUnixMs) : IEntryVisitor
    {
        private byte[] _buffer = ArrayPool<byte>.Shared.Rent(Math.Min(limit, 64 * 1024));

        public int Written { get; private set; }

        public int Count { get; private set; }

        public bool Full => Written > limit - maxEntry;

        public ReadOnlySpan<byte> Entries => _buffer.AsSpan(0, Written);

        public bool Visit(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
        {
            int slot = HashSlot.Of(key);
            if (slot < first || slot > last || (ValueExpiry.TryRead(value, out long expiresAt) && expiresAt <= nowUnixMs))
            {
                return true;
            }

            int size = SlotTransferMessages.EntrySize(key.Length, value.Length);
            if (Written + size > _buffer.Length)
            {
                byte[] larger = ArrayPool<byte>.Shared.Rent(Math.Min(Math.Max(_buffer.Length * 2, Written + size), limit));
                Entries.CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = larger;
            }

            Written += SlotTransferMessages.WriteEntry(_buffer.AsSpan(Written), key, value);
            Count++;
            return !Full;
        }

        public void Return() => ArrayPool<byte>.Shared.Return(_buffer);
    }

    // Copies out the keys of slots first-last, up to max of them.
    private sealed class KeyCollector(int first, int last, int max) : IEntryVisitor
    {
        public List<byte[]> Keys { get; } = [];

        public bool Full => Keys.Count >= max;

        public bool Visit(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
        {
            int slot = HashSlot.Of(key);
            if (slot >= first && slot <= last)
            {
                Keys.Add(key.ToArray());
            }

            return !Full;
        }
    }
}
