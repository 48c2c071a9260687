using MirrorKv.Entries;

namespace MirrorKv.Store;

/// <summary>
/// Eviction: under an evicting policy a write that finds no free slot, no slab in the pool and no empty slab to
/// move evicts a key of its own size class and takes its slot; a class that holds no slab (or nothing the
/// policy may evict) empties the cheapest of a few slabs of other classes and takes it over.
/// </summary>
/// <remarks>
/// <para>Every policy walks a hand per size class over the class's slots (in address order, skipping slabs of
/// other classes), so that the cost of an eviction is amortized O(1) and the read path keeps no list in order:
/// <list type="bullet">
/// <item><b>allkeys-lru</b>: a CLOCK. A slot whose access byte is set was read since the hand last passed and
/// gets another turn (the byte is cleared); the first live slot found clear is evicted (second-chance LRU).</item>
/// <item><b>allkeys-lfu</b>: the next <see cref="SampleSize"/> live slots at the hand are sampled, each counter
/// decays as the hand passes (by the decay periods its previous turn took, see <see cref="AccessTracker"/>), and
/// the slot with the lowest counter is evicted (ties at random). As redis's sampled LFU, over neighbours in the
/// region rather than random keys: where a key lands says nothing of how often it is read.</item>
/// <item><b>volatile-ttl</b>: the next <see cref="SampleSize"/> live slots at the hand whose value carries an
/// expiry are sampled, and the one that expires first is evicted (a prefix at <see cref="long.MaxValue"/>, the cache
/// package's "no expiration", is no expiry). A class in which a whole turn finds none is
/// noted, so that later writes to it are refused at once, until a value with an expiry is written into it.</item>
/// </list></para>
/// <para>Only reads mark a slot under allkeys-lru (one-sided READs, LOOKUP, RESP GET), not writes. A new entry
/// needs no mark to be safe for a while: it mostly lands in the slot just evicted, behind the hand, so a whole
/// turn passes before the hand looks at it. Marking writes too was tried and breaks the point of the policy:
/// after one turn of inserts every slot is marked, the hand clears a whole turn in one eviction and goes on to
/// evict keys read a moment ago (EvictionTests.Evict_KeysReadBetweenWriteBursts_SurviveWhileUnreadOnesGo fails
/// that way). Under allkeys-lfu a new key starts at <see cref="LogCounter.Initial"/> instead, as in redis.</para>
/// <para>An eviction is a delete: the slot is tombstoned, unindexed and freed, and the tombstone goes down the
/// replication stream with the primary address, so the secondary frees the same slot. Only a published entry is
/// evicted: one whose write still waits for the secondary's ack (publish after replication) is skipped, and a slab
/// holding one is not emptied. A client still holding
/// the pointer finds a tombstone or, once the slot is reused, another key at a newer version: a validation
/// failure it answers with a lookup, which misses (the slot reuse rule in StoreEngine.cs).</para>
/// <para>A class whose entries stay much shorter than another's takes slabs from it before it evicts its own
/// (StoreEngine.Automove.cs).</para>
/// </remarks>
public sealed partial class StoreEngine
{
    // No slot to protect from eviction.
    private const ulong NoSlot = ulong.MaxValue;

    // Slabs looked at when one must be emptied for another class: the one with the fewest slots in use is taken.
    // 8 keeps the lock short (8 counters read) and still avoids emptying a crowded slab when a sparse one exists.
    private const int SlabSample = 8;

    /// <summary>
    /// Slots compared per eviction under allkeys-lfu and volatile-ttl (redis's <c>maxmemory-samples</c>). redis
    /// samples 5 and keeps a pool of the 16 best candidates across evictions; without the pool, a few more
    /// samples buy the same accuracy, and a sample of neighbours costs a few loads.
    /// </summary>
    public const int EvictionSamples = 8;

    private const int SampleSize = EvictionSamples;

    private readonly ulong[] _clockHands = [];
    private readonly byte[] _evictedKey = [];
    private readonly long[] _turnStartedMs = [];
    private readonly byte[] _turnDecay = [];
    private int _slabHand;
    private long _evictions;

    /// <summary>Keys evicted to make room for writes since start (0 under <see cref="EvictionPolicy.NoEviction"/>).</summary>
    public long Evictions => Interlocked.Read(ref _evictions);

    /// <summary>
    /// The access bytes that reads set and the evictor reads; null unless the policy uses them
    /// (<see cref="EvictionPolicy.AllKeysLru"/>, <see cref="EvictionPolicy.AllKeysLfu"/>).
    /// </summary>
    public AccessTracker? Access { get; }

    // Under the lock, on a primary with no room for entrySize anywhere: evicts until a slot of its class is free or
    // a slab is empty. The slot at protect (the old slot of a key being relocated) and its slab are left alone.
    private bool TryEvictLocked(int entrySize, ulong protect)
    {
        int sizeClass = SizeClasses.ClassFor(entrySize);
        if (sizeClass < 0)
        {
            // A large entry's new key, whose index must grow first: any slab's entries will do.
            return Options.Eviction != EvictionPolicy.NoEviction && EmptySlabLocked(protect);
        }

        if (TryAutomoveLocked(sizeClass, protect))
        {
            return true;
        }

        bool evicted = Options.Eviction switch
        {
            EvictionPolicy.AllKeysLru => EvictLruLocked(sizeClass, protect),
            EvictionPolicy.AllKeysLfu => EvictLfuLocked(sizeClass, protect),
            EvictionPolicy.VolatileTtl => EvictVolatileLocked(sizeClass, protect),
            _ => false,
        };
        return evicted || (Options.Eviction != EvictionPolicy.NoEviction && EmptySlabLocked(protect));
    }

    private bool EvictLruLocked(int sizeClass, ulong protect)
    {
        // Up to two whole turns after the first wrap: the first may only clear the marks, the second then finds
        // every live slot of the class clear. A class with no live slot gives up after them.
        int wraps = 0;
        while (TryAdvanceHandLocked(sizeClass, protect, 2, ref wraps, out ulong offset))
        {
            if (!Access!.TestAndClear(offset) && EvictLocked(offset))
            {
                return true;
            }
        }

        return false;
    }

    private bool EvictLfuLocked(int sizeClass, ulong protect)
    {
        ulong victim = NoSlot;
        int lowest = int.MaxValue;
        int ties = 0;
        int wraps = 0;
        for (int sampled = 0; sampled < SampleSize && TryAdvanceHandLocked(sizeClass, protect, 1, ref wraps, out ulong offset); sampled++)
        {
            int counter = Access!.Decay(offset, _turnDecay[sizeClass]);
            if (counter < lowest)
            {
                victim = offset;
                lowest = counter;
                ties = 1;
            }
            else if (counter == lowest && LogCounter.NextDraw() % (uint)++ties == 0)
            {
                // Ties are broken at random (reservoir sampling): the hand moves by whole samples, so the windows
                // line up turn after turn, and "the first of the lowest" would evict the same position each turn
                // (the key just written there) while the others of its window never go.
                victim = offset;
            }
        }

        return victim != NoSlot && EvictLocked(victim);
    }

    // Under the lock, as the class's hand wraps: how much the counters it passes in the new turn drop, the decay
    // periods the turn just ended took (the remainder carried to the next turn).
    private void StartLfuTurnLocked(int sizeClass)
    {
        long period = (long)Options.LfuDecayTime.TotalMilliseconds;
        if (period == 0)
        {
            _turnDecay[sizeClass] = 1;
            return;
        }

        long elapsed = Environment.TickCount64 - _turnStartedMs[sizeClass];
        long periods = elapsed / period;
        _turnStartedMs[sizeClass] += periods * period;
        _turnDecay[sizeClass] = (byte)Math.Min(periods, byte.MaxValue);
    }

    // Moves the class's hand to its next live slot other than protect and gives it; false once the hand wrapped
    // past the region's end more than maxWraps times in this eviction (with maxWraps 1: at least one whole turn
    // seen, since the hand may start anywhere).
    private bool TryAdvanceHandLocked(int sizeClass, ulong protect, int maxWraps, ref int wraps, out ulong offset)
    {
        int slotSize = SizeClasses.SlotSize(sizeClass);
        ulong slabSize = (ulong)Options.SlabSize;
        ulong end = (ulong)_allocator.SlabCount * slabSize;
        ref ulong hand = ref _clockHands[sizeClass];
        while (true)
        {
            if (hand >= end)
            {
                hand = 0;
                OnHandTurnedLocked(sizeClass);
                if (Access is { CountsFrequency: true })
                {
                    StartLfuTurnLocked(sizeClass);
                }

                if (++wraps > maxWraps)
                {
                    offset = NoSlot;
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

            offset = slabStart + inSlab;
            hand = offset + (ulong)slotSize;
            if (offset != protect && IsEvictable(offset))
            {
                return true;
            }
        }
    }

    // Evicts every live entry of the sampled claimed slab (of class ofClass, or of any) with the fewest slots in use,
    // so that it becomes empty and can be moved to the class that needs it. A slab holding an unpublished entry is not taken (see
    // IsEvictable). Under volatile-ttl only a slab whose live entries all carry an expiry may be taken (checked slot
    // by slot, up to the first without; only on this rare path).
    private bool EmptySlabLocked(ulong protect, int ofClass = -1)
    {
        int count = _allocator.SlabCount;
        int protectedSlab = protect == NoSlot ? -1 : _allocator.SlabOf(protect);
        bool volatileOnly = Options.Eviction == EvictionPolicy.VolatileTtl;
        int best = -1;
        int bestUsed = int.MaxValue;
        for (int seen = 0, sampled = 0; seen < count && sampled < SlabSample; seen++)
        {
            int slab = _slabHand;
            _slabHand = (_slabHand + 1) % count;
            // A span is sampled by its first slab, whose one slot is the large entry.
            if (!_allocator.IsClaimed(slab) || slab == protectedSlab || (_allocator.IsSpan(slab) && !_allocator.IsSpanHead(slab))
                || (ofClass >= 0 && (_allocator.IsSpan(slab) || _allocator.SlotSizeAt((ulong)slab * (ulong)Options.SlabSize) != SizeClasses.SlotSize(ofClass))))
            {
                continue;
            }

            sampled++;
            if (_allocator.UsedSlots(slab) < bestUsed && !HoldsUnpublishedLocked(slab) && (!volatileOnly || HoldsOnlyVolatile(slab)))
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
        if (_allocator.IsSpanHead(best))
        {
            // Evicting the large entry gives its whole span to the pool.
            return EvictLocked(slabStart);
        }

        int slotSize = _allocator.SlotSizeAt(slabStart);
        for (int inSlab = 0; inSlab + slotSize <= _allocator.HighWater(best); inSlab += slotSize)
        {
            ulong offset = slabStart + (ulong)inSlab;
            if (IsLive(offset))
            {
                EvictLocked(offset);
            }
        }

        return _allocator.UsedSlots(best) == 0;
    }

    private bool IsLive(ulong offset) => (EntryFlags)_memory.GetSpan(offset + EntryLayout.FlagsOffset, 1)[0] == EntryFlags.Live;

    // A live entry that is published. An unpublished one (odd version: its write waits for the secondary's ack) is
    // the newest write of its key, which no reader has seen yet: evicting it would throw away a write before its
    // writer hears of it, and emptying its slab would scrub what the ack is to publish.
    private bool IsEvictable(ulong offset) =>
        IsLive(offset) && (EntryCodec.ReadVersion(_memory.GetSpan(offset, EntryLayout.HeaderSize)) & 1) == 0;

    // Under the lock: deletes the indexed entry at offset, replicated as a delete. The key is copied out first
    // because the tombstone overwrites the slot it lives in.
    private bool EvictLocked(ulong offset)
    {
        int slotSize = _allocator.SlotSizeAt(offset);
        ReadOnlySpan<byte> stored = EntryCodec.KeyOf(_memory.GetSpan(offset, slotSize));
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
