namespace MirrorKv.Store;

/// <summary>
/// Large entries: a slot of more than a slab takes a span, that many slabs in a row inside one chunk, claimed from
/// the pool together and given back together. The span's first slab (its head) carries the slot size; the others
/// (its tail) carry nothing of their own, and no class's slot ever lies in them.
/// </summary>
public sealed partial class SlabAllocator
{
    /// <summary>True when slab <paramref name="slabIndex"/> is the first slab of a large entry's span.</summary>
    public bool IsSpanHead(int slabIndex) => _slabClass[slabIndex] == SpanHead;

    /// <summary>True when slab <paramref name="slabIndex"/> belongs to a large entry's span (first slab or after).</summary>
    public bool IsSpan(int slabIndex) => _slabClass[slabIndex] is SpanHead or SpanTail;

    /// <summary>The first slab of the span that slab <paramref name="slabIndex"/> belongs to (itself for a head).</summary>
    public int SpanHeadOf(int slabIndex)
    {
        int slab = slabIndex;
        while (_slabClass[slab] == SpanTail)
        {
            slab--;
        }

        return slab;
    }

    /// <summary>Slabs of the span whose first slab is <paramref name="headSlab"/>.</summary>
    public int SpanSlabsAt(int headSlab) => Classes.SpanSlabs(_spanSlotSize[headSlab]);

    /// <summary>
    /// The lowest (or, <paramref name="fromTop"/>, the highest) first slab of <paramref name="slabs"/> unclaimed slabs
    /// in a row among the <paramref name="count"/> slabs from <paramref name="first"/> (one chunk), or -1. O(count).
    /// </summary>
    public int FindUnclaimedRun(int first, int count, int slabs, bool fromTop)
    {
        int run = 0;
        for (int i = 0; i < count; i++)
        {
            int slab = fromTop ? first + count - 1 - i : first + i;
            run = _slabClass[slab] == Unclaimed ? run + 1 : 0;
            if (run == slabs)
            {
                return fromTop ? slab : slab - slabs + 1;
            }
        }

        return None;
    }

    /// <summary>
    /// Claims the span of a large entry of <paramref name="slotSize"/> bytes (more than a slab) at
    /// <paramref name="headSlab"/>: the slabs from there must all be unclaimed (see <see cref="FindUnclaimedRun"/>).
    /// With <paramref name="inUse"/> (a primary allocating the entry) the slot counts as handed out; a secondary, which
    /// allocates nothing, passes false. Returns the slot's offset.
    /// </summary>
    public ulong ClaimSpan(int headSlab, int slotSize, bool inUse)
    {
        int slabs = Classes.SpanSlabs(slotSize);
        if (slotSize <= Classes.SlabSize || slotSize % SizeClassTable.Granularity != 0 || headSlab < 0 || headSlab + slabs > _slabClass.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(slotSize), slotSize, "A span holds one slot of more than a slab, a multiple of the granularity, inside the allocator's slabs.");
        }

        for (int i = 0; i < slabs; i++)
        {
            if (_slabClass[headSlab + i] != Unclaimed)
            {
                throw new InvalidOperationException($"Slab {headSlab + i} of the span at {headSlab} is claimed already.");
            }
        }

        for (int i = 0; i < slabs; i++)
        {
            int slab = headSlab + i;
            TakeOutOfPool(slab);
            _slabClass[slab] = i == 0 ? SpanHead : SpanTail;
            _highWater[slab] = Classes.SlabSize;
        }

        _spanSlotSize[headSlab] = slotSize;
        if (inUse)
        {
            _used[headSlab] = 1;
            SlotsInUse++;
            SlotBytesInUse += slotSize;
        }

        return (ulong)headSlab * (ulong)Classes.SlabSize;
    }

    /// <summary>
    /// Gives the span whose first slab is <paramref name="headSlab"/> back to the pool, every slab of it, whether its
    /// slot was in use (the primary freeing a large entry) or not (a secondary). The caller scrubs its bytes first.
    /// </summary>
    public void ReleaseSpan(int headSlab)
    {
        if ((uint)headSlab >= (uint)_slabClass.Length || _slabClass[headSlab] != SpanHead)
        {
            throw new ArgumentOutOfRangeException(nameof(headSlab), headSlab, "Not the first slab of a span.");
        }

        int slabs = SpanSlabsAt(headSlab);
        if (_used[headSlab] != 0)
        {
            SlotsInUse--;
            SlotBytesInUse -= _spanSlotSize[headSlab];
            _used[headSlab] = 0;
        }

        _spanSlotSize[headSlab] = 0;

        // The last slab first, so that the head ends on top of the pool and the span is claimed again in order.
        for (int i = slabs - 1; i >= 0; i--)
        {
            int slab = headSlab + i;
            _slabClass[slab] = Unclaimed;
            _highWater[slab] = 0;
            Push(slab);
        }
    }

    /// <summary>
    /// On a secondary (which hands out no slot, so no slab is on a free list): moves what slab <paramref name="from"/>
    /// holds (its class or its part of a span, and how far it was written) to the unclaimed slab <paramref name="to"/>,
    /// and gives <paramref name="from"/> back to the pool. The caller moves the bytes, scrubs <paramref name="from"/>
    /// and remaps the translation.
    /// </summary>
    public void MoveSecondarySlab(int from, int to)
    {
        if (_slabClass[from] == Unclaimed || _slabClass[to] != Unclaimed || _used[from] != 0 || _partial.Contains(from) || _empty.Contains(from))
        {
            throw new InvalidOperationException($"Slab {from} cannot move to slab {to}: only a secondary's claimed slab moves, to an unclaimed one.");
        }

        TakeOutOfPool(to);
        _slabClass[to] = _slabClass[from];
        _highWater[to] = _highWater[from];
        _spanSlotSize[to] = _spanSlotSize[from];
        _slabClass[from] = Unclaimed;
        _highWater[from] = 0;
        _spanSlotSize[from] = 0;
        Push(from);
    }

    // Out of the pool from anywhere in it: the slab on top takes its place.
    private void TakeOutOfPool(int slab)
    {
        int position = _poolPosition[slab];
        int top = _pool[--_poolCount];
        _pool[position] = top;
        _poolPosition[top] = position;
        _poolPosition[slab] = None;
    }
}
