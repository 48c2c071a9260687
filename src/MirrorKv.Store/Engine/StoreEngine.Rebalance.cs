using MirrorKv.Memory;

namespace MirrorKv.Store;

/// <summary>
/// Slab rebalancing: a size class that has no free slot and finds the pool empty takes over a slab another
/// class emptied (memcached's slab reassignment, done at the moment of need rather than by a background
/// mover). The slab is scrubbed and given back to the pool first, and the release goes down the replication
/// stream, so that the secondary gives up its mirror of that slab too and maps it afresh, with a new delta,
/// when the first record of its new class lands.
/// </summary>
/// <remarks>
/// <para>Why scrub: a client may still hold a pointer with the slab's old slot size and an old slot boundary,
/// and read it one-sided long after the move. Zeroing the slab before the new class cuts it leaves such a
/// pointer three things to find: zeros (version 0, flags 0: never written, so the client looks the key up),
/// a header of the new class (its slot size field differs from the pointer's length: corrupt), or the middle
/// of a new entry, which fails the checksum. The old class's tombstones are gone with the rest. Readers need
/// no lock for any of this: the scrub and the new entries are ordinary stores that a racing copy sees torn
/// at worst, and every entry of the old class was a tombstone or blank when the move began.</para>
/// <para>What validation cannot stop: a value written on purpose to contain a well-formed entry of another
/// key, with the right checksum, at an old slot boundary. Any authenticated client may already write any
/// key, so this gives a writer nothing it did not have; docs/security.md says so.</para>
/// </remarks>
public sealed partial class StoreEngine
{
    private long _slabsMoved;

    /// <summary>Slabs given back to the pool to be claimed by another size class (on a secondary: mirrored releases).</summary>
    public long SlabsMoved => Interlocked.Read(ref _slabsMoved);

    // Under the lock, on a primary. The pool is tried first; when it is empty a chunk is registered if one fits
    // under the limit (StoreEngine.Memory.cs); at the limit an empty slab is moved, and only when none is empty
    // does the eviction policy make room (StoreEngine.Eviction.cs), sparing the slot at protect. Growing comes
    // before moving, so that a store below its limit moves slabs as rarely as one whose memory was all there
    // from the start (a move scrubs a slab, sends a record and gives the slab a new delta on the secondary).
    private bool TryAllocateLocked(int entrySize, ulong protect, out ulong offset, out int slotSize)
    {
        if (entrySize > Options.SlabSize)
        {
            return TryAllocateSpanLocked(entrySize, protect, out offset, out slotSize);
        }

        if (_allocator.TryAllocate(entrySize, out offset, out slotSize))
        {
            return true;
        }

        if (TryGrowLocked())
        {
            return _allocator.TryAllocate(entrySize, out offset, out slotSize);
        }

        if (!_allocator.TryTakeEmptySlab(out int slab))
        {
            if (!TryEvictLocked(entrySize, protect))
            {
                return false;
            }

            // Either a slot of the class is free now, or a slab of another class was emptied for it.
            if (_allocator.TryAllocate(entrySize, out offset, out slotSize))
            {
                return true;
            }

            if (!_allocator.TryTakeEmptySlab(out slab))
            {
                return false;
            }
        }

        ReleaseSlabLocked(slab);
        return _allocator.TryAllocate(entrySize, out offset, out slotSize);
    }

    // Under the lock: scrubs an empty slab, gives it back to the pool and tells the stream. The record follows
    // the tombstones of every slot the slab held, so the secondary has freed them all when it applies it.
    private void ReleaseSlabLocked(int slab)
    {
        ulong slabOffset = (ulong)slab * (ulong)Options.SlabSize;
        _memory.GetSpan(slabOffset, Options.SlabSize).Clear();
        _allocator.ReleaseSlab(slab);
        _changes?.AppendSlabRelease(_memory.PointerAt(slabOffset, (uint)Options.SlabSize));
        Interlocked.Increment(ref _slabsMoved);
    }
}
