namespace MirrorKv.Store;

/// <summary>The common pool of slabs: claiming, giving an empty slab back, and rebuilding on promotion.</summary>
public sealed partial class SlabAllocator
{
    /// <summary>Claims the slab on top of the pool for a size class; false when the pool is empty.</summary>
    public bool TryClaimSlab(int sizeClass, out int slabIndex)
    {
        slabIndex = None;
        if (_poolCount == 0)
        {
            return false;
        }

        slabIndex = _pool[--_poolCount];
        _poolPosition[slabIndex] = None;
        _slabClass[slabIndex] = (byte)(sizeClass + 1);
        return true;
    }

    /// <summary>
    /// Claims an unclaimed slab among <paramref name="count"/> slabs from <paramref name="first"/> (one chunk)
    /// for a size class, the lowest or (<paramref name="descending"/>) the highest: what a secondary does when a
    /// record lands in a primary slab it has not seen, since it mirrors each primary chunk in a chunk of its own.
    /// O(count), once per mirrored slab. False when every slab there is claimed.
    /// </summary>
    public bool TryClaimSlabIn(int first, int count, bool descending, int sizeClass, out int slabIndex)
    {
        for (int i = 0; i < count; i++)
        {
            int slab = descending ? first + count - 1 - i : first + i;
            if (_slabClass[slab] == Unclaimed)
            {
                // Out of the pool: the slab on top takes its place.
                int position = _poolPosition[slab];
                int top = _pool[--_poolCount];
                _pool[position] = top;
                _poolPosition[top] = position;
                _poolPosition[slab] = None;
                _slabClass[slab] = (byte)(sizeClass + 1);
                slabIndex = slab;
                return true;
            }
        }

        slabIndex = None;
        return false;
    }

    /// <summary>
    /// Finds a claimed slab none of whose slots is in use, the one emptied longest ago: what a class short of
    /// room takes over once the pool is empty. The slab stays claimed until <see cref="ReleaseSlab"/>.
    /// </summary>
    public bool TryTakeEmptySlab(out int slabIndex)
    {
        slabIndex = _empty.Head(0);
        return slabIndex != None;
    }

    /// <summary>
    /// Gives a claimed slab with no slot in use back to the pool (forgetting its class, free slots and high
    /// water), on top, so that the next claim takes it. The caller scrubs its bytes first.
    /// </summary>
    public void ReleaseSlab(int slabIndex)
    {
        if ((uint)slabIndex >= (uint)_slabClass.Length || _slabClass[slabIndex] is Unclaimed or SpanHead or SpanTail || _used[slabIndex] != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(slabIndex), slabIndex, "Only a size class's slab with no slot in use can go back to the pool (a span goes back whole: ReleaseSpan).");
        }

        ClassState state = _classes[_slabClass[slabIndex] - 1];
        if (state.CurrentSlab == slabIndex)
        {
            state.CurrentSlab = None;
        }

        _partial.Remove(slabIndex);
        _empty.Remove(slabIndex);
        FreeSlots -= _freeCount[slabIndex];
        Array.Clear(_freeBits, slabIndex * _wordsPerSlab, _wordsPerSlab);
        _freeCount[slabIndex] = 0;
        _freeHint[slabIndex] = 0;
        _highWater[slabIndex] = 0;
        _slabClass[slabIndex] = Unclaimed;
        Push(slabIndex);
    }

    private void Push(int slabIndex)
    {
        _poolPosition[slabIndex] = _poolCount;
        _pool[_poolCount++] = slabIndex;
    }

    /// <summary>
    /// Rebuilds the free slots and counters from the slots themselves, when a secondary becomes writable: every
    /// slot that <paramref name="isInUse"/> rejects, and every slot never handed out in a claimed slab, is free.
    /// Slabs left with no slot in use become empty slabs that other classes may take over.
    /// </summary>
    public void Rebuild(Func<ulong, int, bool> isInUse)
    {
        ArgumentNullException.ThrowIfNull(isInUse);
        SlotsInUse = 0;
        SlotBytesInUse = 0;
        FreeSlots = 0;
        _partial.Clear();
        _empty.Clear();
        Array.Clear(_freeBits);
        foreach (ClassState state in _classes)
        {
            state.CurrentSlab = None;
        }

        for (int slab = 0; slab < _slabClass.Length; slab++)
        {
            _used[slab] = 0;
            _freeCount[slab] = 0;
            _freeHint[slab] = 0;
            if (_slabClass[slab] is Unclaimed or SpanTail)
            {
                continue;
            }

            if (_slabClass[slab] == SpanHead)
            {
                // The caller released every span it does not keep (StoreEngine.Promote): this one holds an entry.
                _used[slab] = 1;
                SlotsInUse++;
                SlotBytesInUse += _spanSlotSize[slab];
                continue;
            }

            int sizeClass = _slabClass[slab] - 1;
            int slotSize = _classes[sizeClass].SlotSize;
            int slots = Classes.SlabSize / slotSize;
            ulong slabBase = (ulong)slab * (ulong)Classes.SlabSize;
            long firstWord = (long)slab * _wordsPerSlab;
            for (int slot = 0; slot < slots; slot++)
            {
                int inSlab = slot * slotSize;
                if (inSlab < _highWater[slab] && isInUse(slabBase + (ulong)inSlab, slotSize))
                {
                    _used[slab]++;
                    SlotsInUse++;
                    SlotBytesInUse += slotSize;
                }
                else
                {
                    _freeBits[firstWord + (slot >> 6)] |= 1UL << (slot & 63);
                    _freeCount[slab]++;
                }
            }

            FreeSlots += _freeCount[slab];
            _highWater[slab] = slots * slotSize;
            if (_freeCount[slab] > 0)
            {
                if (_used[slab] == 0)
                {
                    _partial.AddLast(sizeClass, slab);
                    _empty.AddLast(0, slab);
                }
                else
                {
                    _partial.AddFirst(sizeClass, slab);
                }
            }
        }
    }
}
