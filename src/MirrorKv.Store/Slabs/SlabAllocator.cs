using System.Numerics;

namespace MirrorKv.Store;

/// <summary>
/// Hands out slots from the slabs of one region. A slab is claimed from the common pool for one size class
/// when that class needs room, and goes back to the pool only as a whole, once every one of its slots is
/// free (<see cref="TryTakeEmptySlab"/>, <see cref="ReleaseSlab"/>): then another class may claim it and cut
/// it at other boundaries. The store engine scrubs a slab before it goes back, so that a remote pointer
/// still holding an old boundary finds zeros or a whole entry of the new class, never an old entry.
/// </summary>
/// <remarks>
/// <para>Free slots are bits per slab, and each class keeps a list of its slabs that have free slots, so that
/// an empty slab can be handed to another class in O(1) without searching free lists. A class fills its
/// partly used slabs before its empty ones, which keeps empty slabs empty and so available for a move.</para>
/// <para>Not thread-safe: the store engine calls it under its lock. Nothing here allocates after construction.</para>
/// </remarks>
public sealed partial class SlabAllocator
{
    private const byte Unclaimed = 0;
    private const int None = -1;

    // _slabClass values of a large entry's slabs (see SlabAllocator.Spans.cs): its first slab, and the ones after it.
    private const byte SpanHead = byte.MaxValue;
    private const byte SpanTail = byte.MaxValue - 1;

    // Per slab: 0 when in the pool, else size class + 1.
    private byte[] _slabClass = [];

    // Per slab: bytes from the slab's start that hold or held a slot; slots past it were never handed out.
    private int[] _highWater = [];

    // Per slab: the slot size of the large entry whose span starts here, else 0.
    private int[] _spanSlotSize = [];

    // Per slab: slots handed out and not freed.
    private int[] _used = [];

    // Per slab: set bits in its words of _freeBits.
    private int[] _freeCount = [];

    // Per slab, _wordsPerSlab words: bit i set when slot i lies below the high water and is free.
    private ulong[] _freeBits = [];

    // Per slab: no word before this one has a set bit.
    private int[] _freeHint = [];
    private readonly int _wordsPerSlab;

    // Per class, a doubly linked list of its slabs with free bits; per store, one of claimed slabs with no slot in use.
    private readonly SlabList _partial;
    private readonly SlabList _empty;

    // Unclaimed slabs; the top is claimed next. Released slabs go on top, where their memory is still warm.
    private int[] _pool = [];
    private int _poolCount;

    // Per slab: its place in _pool, or None while claimed (a secondary claims slabs of a given chunk, from the middle).
    private int[] _poolPosition = [];
    private readonly ClassState[] _classes;
    private readonly SlabOrder _order;

    /// <summary>Creates an allocator with no slab yet: the store adds slabs with <see cref="AddSlabs"/> as it registers memory.</summary>
    public SlabAllocator(SizeClassTable classes, SlabOrder order)
    {
        ArgumentNullException.ThrowIfNull(classes);
        if (classes.Count >= SpanTail)
        {
            throw new ArgumentException("Too many size classes to record per slab.", nameof(classes));
        }

        Classes = classes;
        _order = order;
        _wordsPerSlab = ((classes.SlabSize / SizeClassTable.MinSlotSize) + 63) / 64;
        _partial = new SlabList(0, classes.Count);
        _empty = new SlabList(0, 1);
        _classes = new ClassState[classes.Count];
        for (int i = 0; i < _classes.Length; i++)
        {
            _classes[i] = new ClassState(classes.SlotSize(i));
        }
    }

    /// <summary>Creates an allocator over a region of <paramref name="regionLength"/> bytes.</summary>
    public SlabAllocator(ulong regionLength, SizeClassTable classes, SlabOrder order)
        : this(classes, order)
    {
        ulong slabs = regionLength / (ulong)classes.SlabSize;
        if (regionLength % (ulong)classes.SlabSize != 0 || slabs == 0 || slabs > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(regionLength), regionLength, $"The region must hold a whole, positive number of {classes.SlabSize}-byte slabs.");
        }

        AddSlabs((int)slabs);
    }

    /// <summary>
    /// Adds <paramref name="count"/> slabs after the last one (a chunk of memory just registered) to the pool,
    /// so that the next claims take them in the allocator's <see cref="SlabOrder"/>; returns the first new slab.
    /// Allocates (the per-slab arrays grow); the store calls it only when it registers a chunk.
    /// </summary>
    public int AddSlabs(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        int first = _slabClass.Length;
        int total = checked(first + count);
        Array.Resize(ref _slabClass, total);
        Array.Resize(ref _highWater, total);
        Array.Resize(ref _spanSlotSize, total);
        Array.Resize(ref _used, total);
        Array.Resize(ref _freeCount, total);
        Array.Resize(ref _freeHint, total);
        Array.Resize(ref _freeBits, checked(total * _wordsPerSlab));
        Array.Resize(ref _pool, total);
        Array.Resize(ref _poolPosition, total);
        _partial.Grow(total);
        _empty.Grow(total);
        for (int i = 0; i < count; i++)
        {
            // The first slab in the order ends on top.
            Push(_order == SlabOrder.Ascending ? total - 1 - i : first + i);
        }

        return first;
    }

    /// <summary>The size classes in use.</summary>
    public SizeClassTable Classes { get; }

    /// <summary>Slabs added so far (in all the store's chunks).</summary>
    public int SlabCount => _slabClass.Length;

    /// <summary>Slabs in the pool: unclaimed, ready for any size class.</summary>
    public int PooledSlabs => _poolCount;

    /// <summary>Slabs held by a size class now (the rest are in the pool).</summary>
    public int ClaimedSlabs => _slabClass.Length - _poolCount;

    /// <summary>Claimed slabs none of whose slots is in use: the ones a class short of room may take over.</summary>
    public int EmptySlabs => _empty.Count;

    /// <summary>Slots currently handed out (allocated and not freed).</summary>
    public long SlotsInUse { get; private set; }

    /// <summary>Bytes of the slots currently handed out.</summary>
    public long SlotBytesInUse { get; private set; }

    /// <summary>Free slots below the high water of claimed slabs (the room above it is not counted).</summary>
    public long FreeSlots { get; private set; }

    /// <summary>
    /// Allocates a slot that holds <paramref name="entrySize"/> bytes: a free slot of its class first, then
    /// new room in the class's current slab, then a slab from the pool. Returns false when the entry is larger
    /// than a slab or none of these has room; an empty slab of another class is not taken here (the caller
    /// scrubs and releases it first, see <see cref="TryTakeEmptySlab"/>).
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
        int slab = _partial.Head(sizeClass);
        if (slab != None)
        {
            slotOffset = TakeFreeSlot(slab, slotSize);
        }
        else
        {
            slab = state.CurrentSlab;
            if (slab == None || _highWater[slab] + slotSize > Classes.SlabSize)
            {
                if (!TryClaimSlab(sizeClass, out slab))
                {
                    return false;
                }

                state.CurrentSlab = slab;
            }

            slotOffset = ((ulong)slab * (ulong)Classes.SlabSize) + (ulong)_highWater[slab];
            _highWater[slab] += slotSize;
        }

        if (_used[slab]++ == 0)
        {
            _empty.Remove(slab);
        }

        SlotsInUse++;
        SlotBytesInUse += slotSize;
        return true;
    }

    /// <summary>
    /// Returns a slot to its slab. The caller must have tombstoned it: see StoreEngine for why immediate reuse
    /// is safe. A slab whose last slot this was stays with its class (it is the first to be reused by it) until
    /// another class takes it over.
    /// </summary>
    public void Free(ulong slotOffset)
    {
        int slotSize = SlotSizeAt(slotOffset);
        int slab = SlabOf(slotOffset);
        int inSlab = (int)(slotOffset % (ulong)Classes.SlabSize);
        if (slotSize == 0 || _slabClass[slab] == SpanHead || inSlab % slotSize != 0 || inSlab >= _highWater[slab])
        {
            throw new ArgumentOutOfRangeException(nameof(slotOffset), slotOffset, "Not the offset of an allocated slot of a size class (a large entry's span goes back whole: ReleaseSpan).");
        }

        int slot = inSlab / slotSize;
        ref ulong word = ref _freeBits[((long)slab * _wordsPerSlab) + (slot >> 6)];
        ulong bit = 1UL << (slot & 63);
        if ((word & bit) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(slotOffset), slotOffset, "The slot is already free.");
        }

        word |= bit;
        _freeHint[slab] = Math.Min(_freeHint[slab], slot >> 6);
        int sizeClass = _slabClass[slab] - 1;
        if (_freeCount[slab]++ == 0)
        {
            _partial.AddFirst(sizeClass, slab);
        }

        if (--_used[slab] == 0)
        {
            // Last among the class's slabs with free slots, so that the class fills the others first and this
            // one stays empty, free to move to another class.
            _partial.Remove(slab);
            _partial.AddLast(sizeClass, slab);
            _empty.AddLast(0, slab);
        }

        FreeSlots++;
        SlotsInUse--;
        SlotBytesInUse -= slotSize;
    }

    /// <summary>
    /// Records that a mirrored slot at <paramref name="slotOffset"/> was written by replication, so that a scan of a
    /// slab's slots (<see cref="HighWater"/>: a released slab's, a large entry's move) stops at the last one written.
    /// The slab must be claimed.
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

        if (_slabClass[slab] == SpanHead)
        {
            // A span is written whole from its claim on.
            return;
        }

        _highWater[slab] = Math.Max(_highWater[slab], inSlab + slotSize);
    }

    /// <summary>
    /// Slot size of the slab holding <paramref name="offset"/>: its class's, the large entry's for the first slab of a
    /// span (more than a slab), or 0 when that slab is unclaimed or follows the first of a span.
    /// </summary>
    public int SlotSizeAt(ulong offset)
    {
        int slab = SlabOf(offset);
        if ((uint)slab >= (uint)_slabClass.Length)
        {
            return 0;
        }

        byte owner = _slabClass[slab];
        return owner switch
        {
            Unclaimed or SpanTail => 0,
            SpanHead => _spanSlotSize[slab],
            _ => Classes.SlotSize(owner - 1),
        };
    }

    /// <summary>Bytes at the start of slab <paramref name="slabIndex"/> that have ever held a slot: nothing lives above.</summary>
    public int HighWater(int slabIndex) => _highWater[slabIndex];

    /// <summary>True when slab <paramref name="slabIndex"/> has been claimed by a size class.</summary>
    public bool IsClaimed(int slabIndex) => _slabClass[slabIndex] != Unclaimed;

    /// <summary>Slots of slab <paramref name="slabIndex"/> in use (always 0 on a secondary, which allocates nothing).</summary>
    public int UsedSlots(int slabIndex) => _used[slabIndex];

    /// <summary>Index of the slab holding <paramref name="offset"/>.</summary>
    public int SlabOf(ulong offset) => (int)Math.Min(offset / (ulong)Classes.SlabSize, int.MaxValue);

    // The lowest free slot of a slab on its class's partial list.
    private ulong TakeFreeSlot(int slab, int slotSize)
    {
        long first = (long)slab * _wordsPerSlab;
        int w = _freeHint[slab];
        while (_freeBits[first + w] == 0)
        {
            w++;
        }

        ref ulong word = ref _freeBits[first + w];
        int slot = (w << 6) + BitOperations.TrailingZeroCount(word);
        word &= word - 1;
        _freeHint[slab] = w;
        if (--_freeCount[slab] == 0)
        {
            _partial.Remove(slab);
        }

        FreeSlots--;
        return ((ulong)slab * (ulong)Classes.SlabSize) + ((ulong)slot * (ulong)slotSize);
    }

    private sealed class ClassState(int slotSize)
    {
        public int SlotSize { get; } = slotSize;

        // The slab new room is cut from, at its high water; None before the class's first slab.
        public int CurrentSlab { get; set; } = None;
    }
}
