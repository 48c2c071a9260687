using System.Buffers;
using MirrorKv.Entries;
using MirrorKv.Memory;

namespace MirrorKv.Store;

/// <summary>Reclaiming the slots of expired entries (values with a <see cref="ValueExpiry"/> prefix).</summary>
public sealed partial class StoreEngine
{
    private ulong _reapCursor;

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
        byte[] keyCopy = ArrayPool<byte>.Shared.Rent(Options.MaxKeyLength);
        int reaped = 0;
        try
        {
            lock (_lock)
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
                        _reapCursor = 0;
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

                    // A pending entry waits for the secondary's ack; its expiry is judged once it is published.
                    if (!EntryValidator.TryParseOwned(slot, out _, out bool pending, out EntryFlags flags, out int keyLength, out int valueLength)
                        || pending || flags != EntryFlags.Live
                        || !ValueExpiry.TryRead(slot.Slice(EntryLayout.HeaderSize + keyLength, valueLength), out long expiresAt)
                        || expiresAt > nowUnixMs)
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
}
