using MirrorKv.Memory;

namespace MirrorKv.Store;

/// <summary>The secondary side of slab rebalancing: mirroring a primary slab's return to the pool.</summary>
public sealed partial class StoreEngine
{
    // Primary slabs released since this engine began to mirror: a copy of such a slab, planned before the
    // release, holds nothing the stream has not superseded (see ApplySlabCopy).
    private readonly HashSet<(uint RKey, ulong SlabBase)> _releasedPrimarySlabs = [];

    /// <summary>
    /// Applies a slab release from the stream: the primary scrubbed the slab at <paramref name="primarySlab"/>
    /// (its whole extent) and gave it back to its pool. The local slab that mirrors it is checked to hold no
    /// indexed entry (the tombstones of every slot came earlier in the stream), scrubbed, unmapped from the
    /// translation and given back to the local pool; the next record into that primary slab maps it afresh,
    /// for its new size class. A slab never mirrored here needs nothing.
    /// </summary>
    public ApplyStatus ApplySlabRelease(in RemotePointer primarySlab)
    {
        using (Enter())
        {
            if (!_isSecondary || _translation is null)
            {
                return ApplyStatus.NotSecondary;
            }

            if (primarySlab.Length != (uint)Options.SlabSize || !IsMirroredRKey(primarySlab.RKey) || PrimarySlabBase(primarySlab) != primarySlab.Address)
            {
                return ApplyStatus.BadAddress;
            }

            TranslationStatus translated = _translation.Current.TryTranslate(primarySlab with { Length = 1 }, out RemotePointer local);
            if (translated == TranslationStatus.UnknownSlab)
            {
                _releasedPrimarySlabs.Add((primarySlab.RKey, primarySlab.Address));
                return ApplyStatus.Applied;
            }

            if (translated != TranslationStatus.Ok || !_memory.TryGetOffset(local.RKey, local.Address, out ulong slabOffset))
            {
                return ApplyStatus.BadAddress;
            }

            int slab = _allocator.SlabOf(slabOffset);
            if (_allocator.IsSpan(slab))
            {
                // The first of a large entry's slabs released gives the whole mirrored span back; the records of the
                // others then find their slabs unmapped.
                return ReleaseMirroredSpanLocked(primarySlab.RKey, _allocator.SpanHeadOf(slab));
            }

            if (HoldsIndexedEntry(slab))
            {
                // The primary freed every slot before releasing the slab; a key still indexed here means this
                // secondary missed a record, and it must stop rather than serve a diverging copy.
                return ApplyStatus.SlotMismatch;
            }

            _releasedPrimarySlabs.Add((primarySlab.RKey, primarySlab.Address));
            _memory.GetSpan(slabOffset, Options.SlabSize).Clear();
            _translation.UnmapSlab(primarySlab.RKey, primarySlab.Address);
            _allocator.ReleaseSlab(slab);
            Interlocked.Increment(ref _slabsMoved);
            return ApplyStatus.Applied;
        }
    }

    private bool HoldsIndexedEntry(int slab)
    {
        ulong slabOffset = (ulong)slab * (ulong)Options.SlabSize;
        int slotSize = _allocator.SlotSizeAt(slabOffset);
        int highWater = _allocator.HighWater(slab);
        for (int at = 0; at + slotSize <= highWater; at += slotSize)
        {
            if (IsIndexedSlot(slabOffset + (ulong)at, slotSize))
            {
                return true;
            }
        }

        return false;
    }

    private bool IsMirroredRKey(uint rkey) => FindMirrored(rkey) is not null;
}
