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
/// <para>Slab rebalancing: an unpublished entry's slot is in use. A live one is allocated anyway; a tombstone's slot
/// is freed only when the tombstone is published, so a slab emptied by deletes that wait for the secondary is not
/// scrubbed and released (which would wipe what the ack is to publish, and could hand the offset to another size
/// class) until the ack covers them. The slab-released record therefore always follows the acked tombstones.</para>
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
            lock (_lock)
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
        lock (_lock)
        {
            int published = 0;
            while (_pendingCount > 0 && _pending[_pendingHead].Lsn <= ackedLsn)
            {
                PendingEntry entry = _pending[_pendingHead];
                _pendingHead = (_pendingHead + 1) % _pending.Length;
                _pendingCount--;

                // A slot written again holds a later pending version: that one publishes it. A slot whose slab
                // changed class or went back to the pool meanwhile (possible only for an entry overwritten by a
                // write published at once, after the secondary was lost) is not this entry's any more: only a slot
                // of the same size at the same boundary may hold it, and then its unique version tells.
                int slotSize = _allocator.SlotSizeAt(entry.Offset);
                if (slotSize == entry.SlotSize && entry.Offset % (ulong)Options.SlabSize % (ulong)slotSize == 0)
                {
                    published += EntryCodec.Publish(Region.GetSpan(entry.Offset, slotSize), entry.Version) ? 1 : 0;
                }

                // A tombstone's slot stays in use until the tombstone is published (see Tombstone): so no slab
                // holding an unpublished entry is ever empty, scrubbed and released.
                if (entry.FreeWhenPublished)
                {
                    _allocator.Free(entry.Offset);
                    _pendingTombstones--;
                }
            }

            return published;
        }
    }

    // Under the lock, after the entry was written unpublished; lsn 0: nothing to wait for, publish it now.
    // freeWhenPublished: a tombstone, whose slot is freed once it is published (now, or by the ack that covers it).
    private void PublishNowOrHold(Span<byte> slot, ulong offset, ulong version, ulong lsn, bool freeWhenPublished)
    {
        if (lsn == 0)
        {
            EntryCodec.Publish(slot, version);
            if (freeWhenPublished)
            {
                _allocator.Free(offset);
            }

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

        _pending[(_pendingHead + _pendingCount) % _pending.Length] = new PendingEntry(offset, slot.Length, version, lsn, freeWhenPublished);
        _pendingCount++;
        _pendingTombstones += freeWhenPublished ? 1 : 0;
    }

    // Under the lock, for a key the index does not hold: whether a tombstone of it waits for its ack. The key's
    // absence is then not published: a reader that answered "not found" now could see the key come back after a
    // failover (the secondary does not hold the delete yet), so the answer waits for the ack as a value's does.
    // The tombstone's slot stays in use until it is published (see Tombstone), so it still holds the key; a scan of
    // the pending tombstones only, which are as many as the deletes in flight.
    private bool DeletePendingLocked(ReadOnlySpan<byte> key)
    {
        for (int i = 0, seen = 0; seen < _pendingTombstones && i < _pendingCount; i++)
        {
            PendingEntry entry = _pending[(_pendingHead + i) % _pending.Length];
            if (!entry.FreeWhenPublished)
            {
                continue;
            }

            seen++;
            ReadOnlySpan<byte> slot = Region.GetSpan(entry.Offset, entry.SlotSize);
            int keyLength = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(slot[EntryLayout.KeyLengthOffset..]);
            if (keyLength == key.Length && EntryLayout.HeaderSize + keyLength <= slot.Length && slot.Slice(EntryLayout.HeaderSize, keyLength).SequenceEqual(key))
            {
                return true;
            }
        }

        return false;
    }

    private readonly record struct PendingEntry(ulong Offset, int SlotSize, ulong Version, ulong Lsn, bool FreeWhenPublished);
}
