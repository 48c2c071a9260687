namespace MirrorKv.Store;

/// <summary>
/// Hands out slots from the slabs of one region. A slab is claimed for one size class the first time
/// that class needs room and keeps that class for the life of the region, so slot boundaries never
/// move: a remote pointer to a slot always lands on an entry header, never inside another entry.
/// Freed slots go on a per-class LIFO free list and are reused before new room is carved.
/// </summary>
/// <remarks>Not thread-safe: the store engine calls it under its lock.</remarks>
public sealed class SlabAllocator
{
    private const byte Unclaimed = 0;

    // Per slab: 0 when unclaimed, else size class + 1.
    private readonly byte[] _slabClass;

    // Per slab: bytes from the slab's start that hold or held a slot; slots past it were never handed out.
    private readonly int[] _highWater;
    private readonly ClassState[] _classes;
    private readonly SlabOrder _order;
    private int _claimed;

    /// <summary>Creates an allocator over a region of <paramref name="regionLength"/> bytes.</summary>
    public SlabAllocator(ulong regionLength, SizeClassTable classes, SlabOrder order)
    {
        ArgumentNullException.ThrowIfNull(classes);
        ulong slabs = regionLength / (ulong)classes.SlabSize;
        if (regionLength % (ulong)classes.SlabSize != 0 || slabs == 0 || slabs > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(regionLength), regionLength, $"The region must hold a whole, positive number of {classes.SlabSize}-byte slabs.");
        }

        if (classes.Count >= byte.MaxValue)
        {
            throw new ArgumentException("Too many size classes to record per slab.", nameof(classes));
        }

        Classes = classes;
        _order = order;
        _slabClass = new byte[slabs];
        _highWater = new int[slabs];
        _classes = new ClassState[classes.Count];
        for (int i = 0; i < _classes.Length; i++)
        {
            _classes[i] = new ClassState(classes.SlotSize(i));
        }
    }

    /// <summary>The size classes in use.</summary>
    public SizeClassTable Classes { get; }

    /// <summary>Slabs in the region.</summary>
    public int SlabCount => _slabClass.Length;

    /// <summary>Slabs claimed so far.</summary>
    public int ClaimedSlabs => _claimed;

    /// <summary>Slots currently handed out (allocated and not freed).</summary>
    public long SlotsInUse { get; private set; }

    /// <summary>Bytes of the slots currently handed out.</summary>
    public long SlotBytesInUse { get; private set; }

    /// <summary>Slots waiting on free lists.</summary>
    public long FreeSlots { get; private set; }

    /// <summary>
    /// Allocates a slot that holds <paramref name="entrySize"/> bytes. Returns false when the entry is
    /// larger than a slab or the region has no room left for its class.
    /// </summary>
    public bool TryAllocate(int entrySize, out ulong slotOffset, out int slotSize)
    {
        slotOffset = 0;
        slotSize = 0;
        int sizeClass = Classes.ClassFor(entrySize);
        if (sizeClass < 0)
        {
            return false;
        }

        ClassState state = _classes[sizeClass];
        slotSize = state.SlotSize;
        if (state.Free.TryPop(out slotOffset))
        {
            FreeSlots--;
        }
        else
        {
            if (state.CurrentSlab < 0 || state.NextOffset + slotSize > Classes.SlabSize)
            {
                if (!TryClaimSlab(sizeClass, out int slab))
                {
                    return false;
                }

                state.CurrentSlab = slab;
                state.NextOffset = 0;
            }

            slotOffset = ((ulong)state.CurrentSlab * (ulong)Classes.SlabSize) + (ulong)state.NextOffset;
            state.NextOffset += slotSize;
            _highWater[state.CurrentSlab] = state.NextOffset;
        }

        SlotsInUse++;
        SlotBytesInUse += slotSize;
        return true;
    }

    /// <summary>
    /// Returns a slot to its class's free list. The caller must have tombstoned it: see
    /// StoreEngine for why immediate reuse is safe.
    /// </summary>
    public void Free(ulong slotOffset)
    {
        int slotSize = SlotSizeAt(slotOffset);
        if (slotSize == 0 || (slotOffset % (ulong)Classes.SlabSize) % (ulong)slotSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(slotOffset), slotOffset, "Not the offset of an allocated slot.");
        }

        _classes[_slabClass[SlabOf(slotOffset)] - 1].Free.Push(slotOffset);
        FreeSlots++;
        SlotsInUse--;
        SlotBytesInUse -= slotSize;
    }

    /// <summary>
    /// Records that a mirrored slot at <paramref name="slotOffset"/> was written by replication, so that
    /// <see cref="Rebuild"/> knows how far each slab has been used. The slab must be claimed.
    /// </summary>
    public void MarkWritten(ulong slotOffset)
    {
        int slotSize = SlotSizeAt(slotOffset);
        int slab = SlabOf(slotOffset);
        int inSlab = (int)(slotOffset % (ulong)Classes.SlabSize);
        if (slotSize == 0 || inSlab % slotSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(slotOffset), slotOffset, "Not the offset of a slot in a claimed slab.");
        }

        _highWater[slab] = Math.Max(_highWater[slab], inSlab + slotSize);
    }

    /// <summary>
    /// Rebuilds the free lists and counters from the slots themselves, when a replica becomes writable:
    /// every slot that <paramref name="isInUse"/> rejects, and every slot never handed out in a claimed
    /// slab, goes on its class's free list.
    /// </summary>
    public void Rebuild(Func<ulong, int, bool> isInUse)
    {
        ArgumentNullException.ThrowIfNull(isInUse);
        SlotsInUse = 0;
        SlotBytesInUse = 0;
        FreeSlots = 0;
        foreach (ClassState state in _classes)
        {
            state.Free.Clear();
            state.CurrentSlab = -1;
            state.NextOffset = 0;
        }

        for (int slab = 0; slab < _slabClass.Length; slab++)
        {
            if (_slabClass[slab] == Unclaimed)
            {
                continue;
            }

            ClassState state = _classes[_slabClass[slab] - 1];
            int slotSize = state.SlotSize;
            ulong slabBase = (ulong)slab * (ulong)Classes.SlabSize;

            // Pushed from the top so that pops hand out low offsets first.
            for (int inSlab = ((Classes.SlabSize / slotSize) - 1) * slotSize; inSlab >= 0; inSlab -= slotSize)
            {
                ulong offset = slabBase + (ulong)inSlab;
                if (inSlab < _highWater[slab] && isInUse(offset, slotSize))
                {
                    SlotsInUse++;
                    SlotBytesInUse += slotSize;
                }
                else
                {
                    state.Free.Push(offset);
                    FreeSlots++;
                }
            }

            _highWater[slab] = Classes.SlabSize / slotSize * slotSize;
        }
    }

    /// <summary>Slot size of the slab holding <paramref name="offset"/>, or 0 when that slab is unclaimed.</summary>
    public int SlotSizeAt(ulong offset)
    {
        int slab = SlabOf(offset);
        return (uint)slab < (uint)_slabClass.Length && _slabClass[slab] != Unclaimed ? Classes.SlotSize(_slabClass[slab] - 1) : 0;
    }

    /// <summary>Bytes at the start of slab <paramref name="slabIndex"/> that have ever held a slot: nothing lives above.</summary>
    public int HighWater(int slabIndex) => _highWater[slabIndex];

    /// <summary>True when slab <paramref name="slabIndex"/> has been claimed by a size class.</summary>
    public bool IsClaimed(int slabIndex) => _slabClass[slabIndex] != Unclaimed;

    /// <summary>Index of the slab holding <paramref name="offset"/>.</summary>
    public int SlabOf(ulong offset) => (int)Math.Min(offset / (ulong)Classes.SlabSize, int.MaxValue);

    /// <summary>Claims the next unclaimed slab, in this allocator's order, for a size class.</summary>
    public bool TryClaimSlab(int sizeClass, out int slabIndex)
    {
        slabIndex = -1;
        if (_claimed == _slabClass.Length)
        {
            return false;
        }

        slabIndex = _order == SlabOrder.Ascending ? _claimed : _slabClass.Length - 1 - _claimed;
        _slabClass[slabIndex] = (byte)(sizeClass + 1);
        _claimed++;
        return true;
    }

    private sealed class ClassState(int slotSize)
    {
        public int SlotSize { get; } = slotSize;

        public int CurrentSlab { get; set; } = -1;

        public int NextOffset { get; set; }

        public Stack<ulong> Free { get; } = new();
    }
}
