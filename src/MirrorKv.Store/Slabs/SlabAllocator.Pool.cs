using System.Runtime.CompilerServices;
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
    /// Starts rebuilding the free slots and counters when a secondary becomes writable: every slot of a class's
    /// slab is free until <see cref="MarkInUse"/> takes it back (once per live key, from the index), and
    /// <see cref="EndRebuild"/> settles the counts. Spans are kept (the caller released those it does not keep).
    /// </summary>
    /// <remarks>
    /// One pass over the keys and one over the slabs' bitmaps, no slot read. Asking of every slot whether the
    /// index points at it (its key read and hashed) took 10-26 ms of a promotion for 50,000 keys, and the pair's
    /// readers waited for it. It runs once in a process's life, so it is compiled optimized at once: in the
    /// unoptimized first tier these loops cost as much again.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void BeginRebuild()
    {
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
            _freeHint[slab] = 0;
            _freeCount[slab] = 0;
            if (_slabClass[slab] is Unclaimed or SpanTail or SpanHead)
            {
                continue;
            }

            int slots = Classes.SlabSize / _classes[_slabClass[slab] - 1].SlotSize;
            Span<ulong> words = _freeBits.AsSpan(slab * _wordsPerSlab, (slots + 63) / 64);
            words.Fill(ulong.MaxValue);
            if (slots % 64 != 0)
            {
                words[^1] = (1UL << (slots % 64)) - 1;
            }

            _freeCount[slab] = slots;
        }
    }

    /// <summary>During a rebuild: the slot at <paramref name="offset"/> holds a live key. Offsets in spans are ignored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void MarkInUse(ulong offset)
    {
        int slab = SlabOf(offset);
        if ((uint)slab >= (uint)_slabClass.Length || _slabClass[slab] is Unclaimed or SpanTail or SpanHead)
        {
            return;
        }

        int slot = (int)(offset % (ulong)Classes.SlabSize) / _classes[_slabClass[slab] - 1].SlotSize;
        ref ulong word = ref _freeBits[(slab * _wordsPerSlab) + (slot >> 6)];
        ulong bit = 1UL << (slot & 63);
        if ((word & bit) != 0)
        {
            word &= ~bit;
            _used[slab]++;
            _freeCount[slab]--;
        }
    }

    /// <summary>Ends a rebuild: counters, high water marks, and the partial and empty slab lists.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void EndRebuild()
    {
        for (int slab = 0; slab < _slabClass.Length; slab++)
        {
            if (_slabClass[slab] is Unclaimed or SpanTail)
            {
                continue;
            }

            if (_slabClass[slab] == SpanHead)
            {
                _used[slab] = 1;
                SlotsInUse++;
                SlotBytesInUse += _spanSlotSize[slab];
                continue;
            }

            int sizeClass = _slabClass[slab] - 1;
            int slotSize = _classes[sizeClass].SlotSize;
            SlotsInUse += _used[slab];
            SlotBytesInUse += (long)_used[slab] * slotSize;
            FreeSlots += _freeCount[slab];
            _highWater[slab] = Classes.SlabSize / slotSize * slotSize;
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
