namespace MirrorKv.Store;

/// <summary>
/// Large entries on a primary: an entry of more than a slab takes one slot over a span of slabs in a row inside one
/// chunk, so that one pointer (rkey, address, slot size) names it, a one-sided reader copies it as one range (in
/// pieces no larger than its frames) and validates it whole, and the secondary mirrors it with one delta.
/// </summary>
/// <remarks>
/// <para><b>Where a span comes from.</b> A run of unclaimed slabs in one chunk (the lowest first), else a new chunk of
/// at least the span's size if one fits under the limit, else a window of slabs in a row that holds nothing or, under
/// an evicting policy, the fewest entries, emptied and given back to the pool first (its empty slabs released, its
/// entries evicted, each replicated as a delete, and the slabs released as a rebalance releases a slab). An entry
/// whose write waits for the secondary's ack is never evicted, nor is the old slot of the key being written.</para>
/// <para><b>Where it goes.</b> A span holds one entry for its whole life: deleting, evicting or relocating the entry
/// scrubs the span and gives every slab of it back to the pool at once, with a slab-released record per slab (the
/// first slab's first), so that the secondary gives its mirror back too. A pointer still naming the span then reads
/// zeros (version 0: deleted), or whatever a later claim wrote there, which fails validation as after any slab
/// move (see StoreEngine.Rebalance.cs).</para>
/// </remarks>
public sealed partial class StoreEngine
{
    // Cost of a slab that cannot be part of a window emptied for a span.
    private const int Pinned = 1 << 24;

    // Under the lock, on a primary: a span for an entry of entrySize (more than a slab) bytes.
    private bool TryAllocateSpanLocked(int entrySize, ulong protect, out ulong offset, out int slotSize)
    {
        offset = 0;
        slotSize = (int)SizeClassTable.SpanSlotSize(entrySize);
        int slabs = SizeClasses.SpanSlabs(slotSize);
        int head = FindUnclaimedRunLocked(slabs);
        if (head < 0 && TryGrowLocked(slabs))
        {
            head = FindUnclaimedRunLocked(slabs);
        }

        if (head < 0 && !TryEmptyWindowLocked(slabs, protect, out head))
        {
            return false;
        }

        offset = _allocator.ClaimSpan(head, slotSize, inUse: true);
        return true;
    }

    private int FindUnclaimedRunLocked(int slabs)
    {
        for (int chunk = 0; chunk < _memory.Count; chunk++)
        {
            int head = _allocator.FindUnclaimedRun(_memory.FirstSlabOf(chunk), _memory.SlabsOf(chunk), slabs, fromTop: false);
            if (head >= 0)
            {
                return head;
            }
        }

        return -1;
    }

    // Under the lock: scrubs the span at headSlab, gives it back to the pool and tells the stream, slab by slab (the
    // first slab first, which is where the secondary finds its mirrored span). The entry's tombstone came before.
    private void ReleaseSpanLocked(int headSlab)
    {
        ulong slabSize = (ulong)Options.SlabSize;
        int slabs = _allocator.SpanSlabsAt(headSlab);
        ulong start = (ulong)headSlab * slabSize;
        _memory.GetSpan(start, checked(slabs * Options.SlabSize)).Clear();
        _allocator.ReleaseSpan(headSlab);
        for (int i = 0; i < slabs; i++)
        {
            _changes?.AppendSlabRelease(_memory.PointerAt(start + ((ulong)i * slabSize), (uint)slabSize));
        }
    }

    // Under the lock, at the limit: finds the window of `slabs` slabs in a row of one chunk that is cheapest to empty
    // (unclaimed and empty slabs cost nothing; under an evicting policy a slab in use costs its entries), empties it and
    // gives its slabs to the pool. O(slabs of the store), on this rare path only (a large write at the limit).
    private bool TryEmptyWindowLocked(int slabs, ulong protect, out int head)
    {
        head = -1;
        int[] cost = SlabCostsLocked(protect);
        long best = Pinned;
        for (int chunk = 0; chunk < _memory.Count; chunk++)
        {
            int first = _memory.FirstSlabOf(chunk), count = _memory.SlabsOf(chunk);
            long sum = 0;
            for (int i = 0; i < count; i++)
            {
                sum += cost[first + i] - (i >= slabs ? cost[first + i - slabs] : 0);
                if (i >= slabs - 1 && sum < best)
                {
                    best = sum;
                    head = first + i - slabs + 1;
                }
            }
        }

        return head >= 0 && EmptyWindowLocked(head, slabs);
    }

    // Per slab, what emptying it costs: 0 when unclaimed or empty, the entries to evict, or Pinned.
    private int[] SlabCostsLocked(ulong protect)
    {
        int[] cost = new int[_allocator.SlabCount];
        bool evicts = Options.Eviction != EvictionPolicy.NoEviction;
        for (int slab = 0; slab < cost.Length; slab++)
        {
            int used = _allocator.UsedSlots(_allocator.IsSpan(slab) ? _allocator.SpanHeadOf(slab) : slab);
            cost[slab] = !_allocator.IsClaimed(slab) || used == 0 ? 0
                : !evicts || (Options.Eviction == EvictionPolicy.VolatileTtl && !HoldsOnlyVolatile(_allocator.SpanHeadOf(slab))) ? Pinned
                : used;
        }

        // Never the key being relocated, nor an entry still waiting for its ack (see IsEvictable).
        if (protect != NoSlot)
        {
            PinSlotLocked(cost, protect);
        }

        for (int i = 0; i < _pendingCount; i++)
        {
            PendingEntry entry = _pending[(_pendingHead + i) % _pending.Length];
            if (!entry.IsTombstone)
            {
                PinSlotLocked(cost, entry.Offset);
            }
        }

        return cost;
    }

    private void PinSlotLocked(int[] cost, ulong offset)
    {
        int slab = _allocator.SlabOf(offset);
        if (!_allocator.IsSpanHead(slab))
        {
            cost[slab] = Pinned;
            return;
        }

        for (int i = 0, n = _allocator.SpanSlabsAt(slab); i < n; i++)
        {
            cost[slab + i] = Pinned;
        }
    }

    // Under the lock: evicts every entry in the window and gives its slabs to the pool; true when all are unclaimed.
    private bool EmptyWindowLocked(int head, int slabs)
    {
        ulong slabSize = (ulong)Options.SlabSize;
        for (int slab = head; slab < head + slabs; slab++)
        {
            if (!_allocator.IsClaimed(slab))
            {
                continue;
            }

            if (_allocator.IsSpan(slab))
            {
                // Evicting the entry releases its whole span, which may reach past the window.
                EvictLocked((ulong)_allocator.SpanHeadOf(slab) * slabSize);
                continue;
            }

            int slotSize = _allocator.SlotSizeAt((ulong)slab * slabSize);
            for (int inSlab = 0; inSlab + slotSize <= _allocator.HighWater(slab); inSlab += slotSize)
            {
                ulong offset = ((ulong)slab * slabSize) + (ulong)inSlab;
                if (IsLive(offset))
                {
                    EvictLocked(offset);
                }
            }

            if (_allocator.UsedSlots(slab) == 0)
            {
                ReleaseSlabLocked(slab);
            }
        }

        for (int slab = head; slab < head + slabs; slab++)
        {
            if (_allocator.IsClaimed(slab))
            {
                return false;
            }
        }

        return true;
    }
}
