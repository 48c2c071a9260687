using System.Buffers;
using MirrorKv.Entries;
using MirrorKv.Memory;

namespace MirrorKv.Store;

/// <summary>Reclaiming the slots of expired entries (values with a <see cref="ValueExpiry"/> prefix).</summary>
public sealed partial class StoreEngine
{
    private ulong _reapCursor;

    // Whether a live entry with an expiry may be in the store. Cleared once a whole pass of the reaper, begun at the
    // region's start, met none and no expiring value was written since the pass began; set again by such a write
    // (and at a promotion, whose store came from the stream and copies). While clear the reaper does not take the
    // store's lock at all: a store without expiring keys is not swept every 100 ms for nothing.
    private volatile bool _mayHoldExpiring = true;
    private long _expiringWrites;
    private long _expiringWritesAtPassStart;
    private bool _passFromStart = true;
    private bool _passMetExpiring;

    /// <summary>Slots the reaper parsed since start: what its cost is counted in.</summary>
    internal long ReapSlotsExamined { get; private set; }

    /// <summary>
    /// Deletes live entries whose <see cref="ValueExpiry"/> time is at or before <paramref name="nowUnixMs"/>,
    /// examining at most <paramref name="slotBudget"/> slots from where the previous call stopped (wrapping
    /// to the region's start, and never past where it began: a store of a few large slots is swept once per
    /// call, not <paramref name="slotBudget"/> times), so that a sweep never holds the store's lock for long.
    /// A slot is judged by its header and expiry prefix alone, never hashed. The deletes go through
    /// the change sink like any other, so a secondary reclaims the same slots. A secondary reaps nothing: its
    /// primary's deletes reach it. Returns the number of entries deleted.
    /// </summary>
    public int ReapExpired(long nowUnixMs, int slotBudget)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(slotBudget);
        if (!_mayHoldExpiring)
        {
            return 0;
        }

        byte[] keyCopy = ArrayPool<byte>.Shared.Rent(Options.MaxKeyLength);
        int reaped = 0;
        try
        {
            using (Enter())
            {
                if (_isSecondary)
                {
                    return 0;
                }

                ulong slabSize = (ulong)Options.SlabSize;
                ulong end = (ulong)_allocator.SlabCount * slabSize;
                ulong swept = 0;
                for (int examined = 0; examined < slotBudget && swept < end; examined++)
                {
                    if (_reapCursor >= end)
                    {
                        if (EndReapPass())
                        {
                            break;
                        }
                    }

                    int slab = _allocator.SlabOf(_reapCursor);
                    ulong slabEnd = (ulong)(slab + 1) * slabSize;
                    int slotSize = _allocator.IsClaimed(slab) ? _allocator.SlotSizeAt(_reapCursor) : 0;
                    bool spanStart = slotSize > Options.SlabSize && _reapCursor == slabEnd - slabSize;
                    if (slotSize == 0 || (_reapCursor + (ulong)slotSize > slabEnd && !spanStart))
                    {
                        // An unclaimed slab, the tail of a slab too short for a slot, or a large entry's span passed.
                        swept += slabEnd - _reapCursor;
                        _reapCursor = slabEnd;
                        continue;
                    }

                    ulong offset = _reapCursor;
                    _reapCursor += (ulong)slotSize;
                    swept += (ulong)slotSize;
                    ReapSlotsExamined++;
                    ReadOnlySpan<byte> slot = _memory.GetSpan(offset, slotSize);

                    if (!EntryValidator.TryParseOwned(slot, out _, out bool pending, out EntryFlags flags, out int keyLength, out int valueLength)
                        || flags != EntryFlags.Live
                        || !ValueExpiry.TryRead(slot.Slice(EntryLayout.HeaderSize + keyLength, valueLength), out long expiresAt))
                    {
                        continue;
                    }

                    // A pending entry waits for the secondary's ack; its expiry is judged once it is published.
                    _passMetExpiring = true;
                    if (pending || expiresAt > nowUnixMs)
                    {
                        continue;
                    }

                    // The key is copied out because the tombstone overwrites the slot it lives in.
                    Span<byte> key = keyCopy.AsSpan(0, keyLength);
                    slot.Slice(EntryLayout.HeaderSize, keyLength).CopyTo(key);
                    ulong hash = KeyIndex.Hash(key);
                    if (_index.TryGet(key, hash, out ulong indexed) && indexed == offset)
                    {
                        _index.Remove(key, hash, out _);
                        Tombstone(offset, slotSize, key);
                        reaped++;
                    }
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(keyCopy);
        }

        return reaped;
    }

    // Under the lock, as the reaper's cursor passes the region's end: whether the pass that ended shows the store holds
    // no expiring entry (then the reaper rests until one is written); else the next pass begins at the start.
    private bool EndReapPass()
    {
        _reapCursor = 0;
        if (_passFromStart && !_passMetExpiring && _expiringWrites == _expiringWritesAtPassStart)
        {
            _mayHoldExpiring = false;
        }

        _passFromStart = true;
        _passMetExpiring = false;
        _expiringWritesAtPassStart = _expiringWrites;
        return !_mayHoldExpiring;
    }

    // Under the lock, for every entry written on this node: an expiring one wakes the reaper.
    private void NoteExpiringWrite(ReadOnlySpan<byte> value)
    {
        if (ValueExpiry.TryRead(value, out _))
        {
            _expiringWrites++;
            _mayHoldExpiring = true;
        }
    }

    // Under the lock, at a promotion: the entries came from the stream and slab copies, unseen by NoteExpiringWrite.
    private void ExpectExpiringEntries()
    {
        _mayHoldExpiring = true;
        _passFromStart = false;
    }
}
