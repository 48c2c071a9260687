namespace MirrorKv.Store;

/// <summary>
/// Eviction under <see cref="EvictionPolicy.AllKeysLru"/>: a write that finds no free slot, no slab in the pool
/// and no empty slab to move evicts a key of its own size class and takes its slot; a class that holds no slab
/// at all empties the cheapest of a few slabs of other classes and takes it over.
/// </summary>
/// <remarks>
/// <para>The victim is chosen by a CLOCK over the slots of the class (one hand per class, walking the region in
/// address order and skipping slabs of other classes): a slot whose access byte is set was read since the hand
/// last passed and gets another turn (the byte is cleared); the first live slot found clear is evicted. This is
/// second-chance LRU, amortized O(1) per eviction, with no list to keep in order on the read path.</para>
/// <para>Only reads mark a slot (one-sided READs, LOOKUP, RESP GET), not writes. A new entry needs no mark to be
/// safe for a while: it mostly lands in the slot just evicted, behind the hand, so a whole turn passes before the
/// hand looks at it. Marking writes too was tried and breaks the point of the policy: after one turn of inserts
/// every slot is marked, the hand clears a whole turn in one eviction and goes on to evict keys read a moment
/// ago (EvictionTests.Evict_KeysReadBetweenWriteBursts_SurviveWhileUnreadOnesGo fails that way).</para>
/// <para>An eviction is a delete: the slot is tombstoned, unindexed and freed, and the tombstone goes down the
/// replication stream with the primary address, so the secondary frees the same slot. A client still holding
/// the pointer finds a tombstone or, once the slot is reused, another key at a newer version: a validation
/// failure it answers with a lookup, which misses (the slot reuse rule in StoreEngine.cs).</para>
/// <para>Known limit: a class keeps the slabs it has, so a class that got few slabs early evicts among few
/// entries (memcached's automove, a background mover balancing eviction ages across classes, is the next step).</para>
/// </remarks>
public sealed partial class StoreEngine
{
    // No slot to protect from eviction.
    private const ulong NoSlot = ulong.MaxValue;

    // Slabs looked at when one must be emptied for another class: the one with the fewest slots in use is taken.
    // 8 keeps the lock short (8 counters read) and still avoids emptying a crowded slab when a sparse one exists.
    private const int SlabSample = 8;

    private readonly ulong[] _clockHands = [];
    private readonly byte[] _evictedKey = [];
    private int _slabHand;
    private long _evictions;

    /// <summary>Keys evicted to make room for writes since start (0 under <see cref="EvictionPolicy.NoEviction"/>).</summary>
    public long Evictions => Interlocked.Read(ref _evictions);

    /// <summary>The access bytes that reads set and the CLOCK reads; null under <see cref="EvictionPolicy.NoEviction"/>.</summary>
    public AccessTracker? Access { get; }

    // Under the lock, on a primary with no room for entrySize anywhere: evicts until a slot of its class is free or
    // a slab is empty. The slot at protect (the old slot of a key being relocated) and its slab are left alone.
    private bool TryEvictLocked(int entrySize, ulong protect)
    {
        if (Access is null)
        {
            return false;
        }

        int sizeClass = SizeClasses.ClassFor(entrySize);
        return sizeClass >= 0 && (EvictFromClassLocked(sizeClass, protect) || EmptySlabLocked(protect));
    }

    private bool EvictFromClassLocked(int sizeClass, ulong protect)
    {
        int slotSize = SizeClasses.SlotSize(sizeClass);
        ulong slabSize = (ulong)Options.SlabSize;
        ulong end = (ulong)_allocator.SlabCount * slabSize;
        ref ulong hand = ref _clockHands[sizeClass];

        // Up to two whole turns after the first wrap: the first may only clear the marks, the second then finds
        // every live slot of the class clear. A class with no live slot gives up after them.
        for (int wraps = 0; ;)
        {
            if (hand >= end)
            {
                hand = 0;
                if (++wraps > 2)
                {
                    return false;
                }
            }

            int slab = _allocator.SlabOf(hand);
            ulong slabStart = (ulong)slab * slabSize;
            ulong inSlab = (hand - slabStart) / (ulong)slotSize * (ulong)slotSize;
            if (_allocator.SlotSizeAt(hand) != slotSize || inSlab + (ulong)slotSize > slabSize || inSlab >= (ulong)_allocator.HighWater(slab))
            {
                hand = slabStart + slabSize;
                continue;
            }

            ulong offset = slabStart + inSlab;
            hand = offset + (ulong)slotSize;
            if (offset != protect && IsLive(offset) && !Access!.TestAndClear(offset) && EvictLocked(offset, slotSize))
            {
                return true;
            }
        }
    }

    // Evicts every live entry of the sampled claimed slab with the fewest slots in use, so that it becomes empty
    // and can be moved to the class that needs it.
    private bool EmptySlabLocked(ulong protect)
    {
        int count = _allocator.SlabCount;
        int protectedSlab = protect == NoSlot ? -1 : _allocator.SlabOf(protect);
        int best = -1;
        int bestUsed = int.MaxValue;
        for (int seen = 0, sampled = 0; seen < count && sampled < SlabSample; seen++)
        {
            int slab = _slabHand;
            _slabHand = (_slabHand + 1) % count;
            if (!_allocator.IsClaimed(slab) || slab == protectedSlab)
            {
                continue;
            }

            sampled++;
            if (_allocator.UsedSlots(slab) < bestUsed)
            {
                best = slab;
                bestUsed = _allocator.UsedSlots(slab);
            }
        }

        if (best < 0)
        {
            return false;
        }

        ulong slabStart = (ulong)best * (ulong)Options.SlabSize;
        int slotSize = _allocator.SlotSizeAt(slabStart);
        for (int inSlab = 0; inSlab + slotSize <= _allocator.HighWater(best); inSlab += slotSize)
        {
            ulong offset = slabStart + (ulong)inSlab;
            if (IsLive(offset))
            {
                EvictLocked(offset, slotSize);
            }
        }

        return _allocator.UsedSlots(best) == 0;
    }

    private bool IsLive(ulong offset) => (EntryFlags)Region.GetSpan(offset + EntryLayout.FlagsOffset, 1)[0] == EntryFlags.Live;

    // Under the lock: deletes the indexed entry at offset, replicated as a delete. The key is copied out first
    // because the tombstone overwrites the slot it lives in.
    private bool EvictLocked(ulong offset, int slotSize)
    {
        ReadOnlySpan<byte> stored = EntryCodec.KeyOf(Region.GetSpan(offset, slotSize));
        Span<byte> key = _evictedKey.AsSpan(0, stored.Length);
        stored.CopyTo(key);
        ulong hash = KeyIndex.Hash(key);
        if (!_index.TryGet(key, hash, out ulong indexed) || indexed != offset)
        {
            return false;
        }

        _index.Remove(key, hash, out _);
        Tombstone(offset, slotSize, key);
        Interlocked.Increment(ref _evictions);
        return true;
    }
}
