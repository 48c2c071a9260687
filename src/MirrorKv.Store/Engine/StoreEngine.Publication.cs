using MirrorKv.Entries;

namespace MirrorKv.Store;

/// <summary>
/// Publish after replication: on a primary with a secondary to wait for, an entry is written with its version left
/// odd, so that one-sided readers retry (and then LOOKUP, which the node holds), and becomes readable only when the
/// secondary has acknowledged its record. A value a reader of the primary saw is therefore one the secondary holds,
/// and survives a failover.
/// </summary>
/// <remarks>
/// Entries wait in a queue in LSN order (the order of <see cref="IChangeSink.Append"/> calls, made under the lock), so
/// a cumulative ack publishes a prefix. The queue's array is kept and grows by doubling: no allocation per write once
/// it has reached the pipeline's depth.
/// <para>Slots: an unpublished live entry's slot is in use (allocated), and eviction never picks it (see
/// StoreEngine.Eviction.cs), so no slab holding one is emptied, scrubbed and released. A tombstone's slot is freed at
/// once, as without publication: a write that evicts a key takes the slot its tombstone frees, and a slab emptied by
/// deletes can go to another class before their ack. What the queued tombstone still has to do needs nothing from the
/// slot: the key's pending absence is found by the key's hash kept in the queue (<see cref="DeletePendingLocked"/>),
/// and <see cref="Publish"/> touches a slot only while it holds the queued version (a slot reused, scrubbed or cut to
/// another size class holds none). A reader of the old pointer meanwhile finds the odd version, zeros, another key or
/// another class's header: none passes its checks, and its LOOKUP waits for the ack.</para>
/// </remarks>
public sealed partial class StoreEngine
{
    private PendingEntry[] _pending = new PendingEntry[64];
    private int _pendingHead;
    private int _pendingCount;
    private int _pendingTombstones;

    /// <summary>Entries written and not yet published (waiting for the secondary's ack).</summary>
    public int PendingCount
    {
        get
        {
            using (Enter())
            {
                return _pendingCount;
            }
        }
    }

    /// <summary>
    /// The secondary holds every record up to <paramref name="ackedLsn"/>: makes the entries of those records readable.
    /// <see cref="ulong.MaxValue"/> publishes everything (the primary goes on alone, or a new secondary copies what it
    /// holds). Returns how many entries were published.
    /// </summary>
    /// <remarks>Runs on the thread that received the ack, before the writes' replies leave.</remarks>
    public int Publish(ulong ackedLsn)
    {
        using (Enter())
        {
            int published = 0;
            while (_pendingCount > 0 && _pending[_pendingHead].Lsn <= ackedLsn)
            {
                PendingEntry entry = _pending[_pendingHead];
                _pendingHead = (_pendingHead + 1) % _pending.Length;
                _pendingCount--;

                // A slot written again holds a later pending version: that one publishes it. A tombstone's slot,
                // freed at once, may have gone to another key, or its slab back to the pool or to another class:
                // only a slot of the same size at the same boundary may hold the entry, and then its unique
                // version tells.
                int slotSize = _allocator.SlotSizeAt(entry.Offset);
                if (slotSize == entry.SlotSize && entry.Offset % (ulong)Options.SlabSize % (ulong)slotSize == 0)
                {
                    published += EntryCodec.Publish(_memory.GetSpan(entry.Offset, slotSize), entry.Version) ? 1 : 0;
                }

                _pendingTombstones -= entry.IsTombstone ? 1 : 0;
            }

            return published;
        }
    }

    // Under the lock, after the entry was written unpublished; lsn 0: nothing to wait for, publish it now.
    // keyHash: for a tombstone, the hash of the key it deletes, by which a lookup of the key finds its delete pending
    // after the slot went to another key.
    private void PublishNowOrHold(Span<byte> slot, ulong offset, ulong version, ulong lsn, bool isTombstone, ulong keyHash)
    {
        if (lsn == 0)
        {
            EntryCodec.Publish(slot, version);
            return;
        }

        if (_pendingCount == _pending.Length)
        {
            var grown = new PendingEntry[_pending.Length * 2];
            for (int i = 0; i < _pendingCount; i++)
            {
                grown[i] = _pending[(_pendingHead + i) % _pending.Length];
            }

            _pending = grown;
            _pendingHead = 0;
        }

        _pending[(_pendingHead + _pendingCount) % _pending.Length] = new PendingEntry(offset, slot.Length, version, lsn, isTombstone, keyHash);
        _pendingCount++;
        _pendingTombstones += isTombstone ? 1 : 0;
    }

    // Under the lock, for a key the index does not hold: whether a tombstone of it waits for its ack. The key's
    // absence is then not published: a reader that answered "not found" now could see the key come back after a
    // failover (the secondary does not hold the delete yet), so the answer waits for the ack as a value's does.
    // Matched by the key's hash, since the slot may hold another key by now: a collision only makes a miss wait for
    // an ack. A scan of the pending tombstones only, which are as many as the deletes in flight.
    private bool DeletePendingLocked(ulong keyHash)
    {
        for (int i = 0, seen = 0; seen < _pendingTombstones && i < _pendingCount; i++)
        {
            PendingEntry entry = _pending[(_pendingHead + i) % _pending.Length];
            if (!entry.IsTombstone)
            {
                continue;
            }

            seen++;
            if (entry.KeyHash == keyHash)
            {
                return true;
            }
        }

        return false;
    }

    // Under the lock: whether an unpublished live entry lies in the slab (eviction must not empty it: the scrub would
    // wipe an entry the ack is to publish, and a reader already waits for it). A scan of the queue, on eviction's
    // rare path that empties a slab.
    private bool HoldsUnpublishedLocked(int slab)
    {
        ulong start = (ulong)slab * (ulong)Options.SlabSize;
        ulong end = start + (ulong)Options.SlabSize;
        for (int i = 0; i < _pendingCount; i++)
        {
            PendingEntry entry = _pending[(_pendingHead + i) % _pending.Length];
            if (!entry.IsTombstone && entry.Offset >= start && entry.Offset < end)
            {
                return true;
            }
        }

        return false;
    }

    private readonly record struct PendingEntry(ulong Offset, int SlotSize, ulong Version, ulong Lsn, bool IsTombstone, ulong KeyHash);
}
