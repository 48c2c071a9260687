using System.Buffers.Binary;
using MirrorKv.Entries;

namespace MirrorKv.Store;

/// <summary>
/// Eviction under <see cref="EvictionPolicy.VolatileTtl"/>: only keys whose value carries an expiry, the one
/// nearest to expiring among a few sampled at the class's hand (StoreEngine.Eviction.cs has the hand).
/// </summary>
/// <remarks>
/// redis knows how many keys expire (its expires dictionary) and answers "none" at once; the store has no such
/// count, and keeping one would need every write, replicated image and copied slab to read the slot it
/// replaces. A flag per size class does instead: a turn of the hand that meets no key with an expiry sets it,
/// and a value with an expiry written into the class clears it, so a store with none left refuses each write
/// at the cost of one turn per class, not one per write. Only a primary sets it (a secondary never evicts), and
/// promotion clears them all.
/// </remarks>
public sealed partial class StoreEngine
{
    private readonly bool[] _noVolatile = [];

    private bool EvictVolatileLocked(int sizeClass, ulong protect)
    {
        if (_noVolatile[sizeClass])
        {
            return false;
        }

        ulong victim = NoSlot;
        long soonest = long.MaxValue;
        int wraps = 0;
        for (int sampled = 0; sampled < SampleSize && TryAdvanceHandLocked(sizeClass, protect, 1, ref wraps, out ulong offset);)
        {
            if (TryReadExpiry(offset, out long expiresAt))
            {
                sampled++;
                if (expiresAt < soonest)
                {
                    victim = offset;
                    soonest = expiresAt;
                }
            }
        }

        if (victim == NoSlot)
        {
            // A whole turn met no key with an expiry: WriteEntry clears this when one is written into the class.
            _noVolatile[sizeClass] = true;
            return false;
        }

        return EvictLocked(victim);
    }

    private bool HoldsOnlyVolatile(int slab)
    {
        ulong slabStart = (ulong)slab * (ulong)Options.SlabSize;
        int slotSize = _allocator.SlotSizeAt(slabStart);
        if (_allocator.IsSpanHead(slab))
        {
            return !IsLive(slabStart) || TryReadExpiry(slabStart, out _);
        }

        if (_noVolatile[SizeClasses.ClassFor(slotSize)])
        {
            return false;
        }

        for (int inSlab = 0; inSlab + slotSize <= _allocator.HighWater(slab); inSlab += slotSize)
        {
            ulong offset = slabStart + (ulong)inSlab;
            if (IsLive(offset) && !TryReadExpiry(offset, out _))
            {
                return false;
            }
        }

        return true;
    }

    // Under the lock, for a live slot: the expiry its value carries, if any.
    private bool TryReadExpiry(ulong offset, out long expiresAtUnixMs)
    {
        Span<byte> header = _memory.GetSpan(offset, EntryLayout.HeaderSize);
        int keyLength = BinaryPrimitives.ReadUInt16LittleEndian(header[EntryLayout.KeyLengthOffset..]);
        int valueLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(header[EntryLayout.ValueLengthOffset..]);
        if (valueLength < ValueExpiry.Size)
        {
            expiresAtUnixMs = 0;
            return false;
        }

        return IsVolatile(_memory.GetSpan(offset + (ulong)EntryLayout.HeaderSize + (ulong)keyLength, ValueExpiry.Size), out expiresAtUnixMs);
    }

    // A value with an expiry, as redis's volatile keys. A prefix at long.MaxValue means "never" (the cache package
    // writes it in front of an entry without expiration), so such a key is not volatile.
    private static bool IsVolatile(ReadOnlySpan<byte> value, out long expiresAtUnixMs) =>
        ValueExpiry.TryRead(value, out expiresAtUnixMs) && expiresAtUnixMs != long.MaxValue;

    // Under the lock, on a primary under volatile-ttl, for every live entry written: a value with an expiry makes
    // its class worth a turn of the hand again.
    private void NoteVolatileWrite(int slotSize, ReadOnlySpan<byte> value)
    {
        int sizeClass = SizeClasses.ClassFor(slotSize);
        if (sizeClass >= 0 && IsVolatile(value, out _))
        {
            _noVolatile[sizeClass] = false;
        }
    }
}
