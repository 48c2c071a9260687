namespace MirrorKv.Store;

/// <summary>
/// Automove: a size class that must evict takes a slab from the class whose entries stay longest, when they stay
/// much longer than its own (memcached's slab automove balances its classes' eviction ages the same way). Without
/// it a class keeps the slabs it got early: after a shift from small to large values, the large class evicts
/// among the few entries of its one slab while the small class's slabs hold entries nobody reads.
/// </summary>
/// <remarks>
/// <para>How long a class's entries stay is read off its CLOCK hand, counted in the store's evictions (a clock of
/// the write load, the same on every machine and in every test): the evictions during the hand's last whole turn over
/// the class's slots, or since its current turn began if more (a class that stopped evicting has a hand at rest, and
/// its entries grow old). A class under eviction checks once per slab's worth of
/// its own evictions; it takes a slab when the oldest class (one with at least two slabs) is more than
/// <see cref="AgeRatio"/> times older than itself, so that the classes settle where their entries stay alike and
/// do not trade slabs back and forth. The slab taken is emptied as any slab moved for another class
/// (<c>EmptySlabLocked</c>): its entries are evicted, each down the replication stream, then it is scrubbed and
/// released (StoreEngine.Rebalance.cs), and the secondary mirrors every step.</para>
/// <para>Only allkeys-lru and allkeys-lfu move by age: under volatile-ttl a slab may only be emptied of entries with
/// an expiry, which the slab emptying already checks, and the hands move by expiry, not by age.</para>
/// </remarks>
public sealed partial class StoreEngine
{
    // How much older the oldest class's entries must be than the evicting class's before it gives up a slab.
    private const int AgeRatio = 2;

    // Per class, in the store's evictions: when the hand began its current turn, and how long its last whole turn
    // took (0 before one).
    private readonly long[] _handTurnStart = [];
    private readonly long[] _handLastTurn = [];

    // Per class: its own evictions since it last looked for a slab to take.
    private readonly int[] _evictionsSinceAutomove = [];
    private long _slabsAutomoved;

    /// <summary>Slabs a class under eviction took from a class whose entries stayed much longer (automove).</summary>
    public long SlabsAutomoved => Interlocked.Read(ref _slabsAutomoved);

    // Under the lock, as the class's hand wraps past the region's end.
    private void OnHandTurnedLocked(int sizeClass)
    {
        long now = _evictions;
        _handLastTurn[sizeClass] = now - _handTurnStart[sizeClass];
        _handTurnStart[sizeClass] = now;
    }

    private long EntryAge(int sizeClass, long now) => Math.Max(_handLastTurn[sizeClass], now - _handTurnStart[sizeClass]);

    // Under the lock, on a primary whose class sizeClass must evict: empties a slab of the oldest class for it when
    // that class's entries stay much longer. True when a slab was emptied (the caller then moves it).
    private bool TryAutomoveLocked(int sizeClass, ulong protect)
    {
        if (Options.Eviction is not (EvictionPolicy.AllKeysLru or EvictionPolicy.AllKeysLfu))
        {
            return false;
        }

        int slotsPerSlab = Math.Max(1, Options.SlabSize / SizeClasses.SlotSize(sizeClass));
        if (++_evictionsSinceAutomove[sizeClass] < slotsPerSlab)
        {
            return false;
        }

        _evictionsSinceAutomove[sizeClass] = 0;
        Span<int> slabs = stackalloc int[SizeClasses.Count];
        for (int slab = 0; slab < _allocator.SlabCount; slab++)
        {
            if (_allocator.IsClaimed(slab) && !_allocator.IsSpan(slab))
            {
                slabs[SizeClasses.ClassFor(_allocator.SlotSizeAt((ulong)slab * (ulong)Options.SlabSize))]++;
            }
        }

        long now = _evictions;
        int donor = -1;
        long oldest = 0;
        for (int c = 0; c < slabs.Length; c++)
        {
            if (c != sizeClass && slabs[c] >= 2 && EntryAge(c, now) > oldest)
            {
                (donor, oldest) = (c, EntryAge(c, now));
            }
        }

        if (donor < 0 || oldest <= AgeRatio * Math.Max(EntryAge(sizeClass, now), 1))
        {
            return false;
        }

        if (!EmptySlabLocked(protect, donor))
        {
            return false;
        }

        Interlocked.Increment(ref _slabsAutomoved);
        return true;
    }
}
