using System.Runtime.CompilerServices;
using MirrorKv.Memory;

namespace MirrorKv.Store;

/// <summary>
/// One access byte per slot of a store's region, what the evictor reads to choose a victim. Under
/// <see cref="EvictionPolicy.AllKeysLru"/> the byte is the reference bit of a CLOCK: readers set it, the hand
/// clears it as it passes and evicts a slot it finds clear (not read since the last pass). Under
/// <see cref="EvictionPolicy.AllKeysLfu"/> it is a logarithmic read counter (<see cref="LogCounter"/>): readers
/// raise it now and then, the hand lowers it as it passes by the time since its last pass (the decay), and the
/// lowest of a few slots sampled at the hand is evicted.
/// </summary>
/// <remarks>
/// <para>Why this shape: one-sided READs are served by the adapter without the store engine or its lock, so
/// recording one must cost the read path nothing measurable. A byte per 32-byte granule (the smallest slot)
/// gives every slot a byte of its own at the granule of its start, whatever its size class, so a read is one
/// plain load and, only when the byte changes, one plain store: no lock, no interlocked instruction, no
/// allocation, and no cache line dirtied by the reads of a key already marked or, under LFU, by most reads of
/// a hot key (its counter climbs ever more slowly). Stores are relaxed: a reader's store and the hand's may
/// race, and then one of the two is lost, which at worst evicts a key read in that instant or gives another a
/// second chance. The approximation is the price of a read path that takes no lock; the entry format, not this
/// table, keeps readers safe.</para>
/// <para>Decay at the hand: redis keeps 16 bits of minutes beside each counter and lowers it by the minutes
/// since its last decrement when it looks at the key; a byte has no room for a time. But the hand passes every
/// slot of its class once per turn, so the time since it last passed a slot is about the time its previous turn
/// took: the hand lowers each counter it passes by that many decay periods
/// (<see cref="StoreOptions.LfuDecayTime"/>), which comes to redis's rule without a time per slot.</para>
/// <para>Cost: 1/32 of the store's chunks (8 MiB for 256 MiB), only under a policy that reads it; it counts
/// against <see cref="StoreOptions.MaxMemory"/> with them.</para>
/// <para>A hardware adapter cannot run this code on a READ: there the NIC would count READs per page or MR
/// (or mirror accessed bits from the IOMMU/ATS page tables), or the client library would post a batched,
/// unsignalled one-sided WRITE or FETCH_AND_ADD to this same table every N reads; the evictor reads the table
/// the same way whichever way it was filled.</para>
/// </remarks>
public sealed class AccessTracker
{
    /// <summary>Bytes of region per access byte: the smallest slot, so no two slots share a byte.</summary>
    public const int Granularity = SizeClassTable.MinSlotSize;

    /// <summary>How much harder each step of an LFU counter gets (redis's <c>lfu-log-factor</c>; see <see cref="LogCounter"/>).</summary>
    public const int LfuLogFactor = LogCounter.LogFactor;

    private readonly MemoryChunks _memory;
    private readonly bool _counts;

    // Per chunk of the store's memory, a byte per granule; grown (copied, a reference per chunk) when a chunk is added.
    private volatile byte[][] _marks = [];

    /// <summary>Creates the table for the chunks of <paramref name="memory"/>, every slot unread; <see cref="AddChunks"/> follows new ones.</summary>
    /// <param name="memory">The store's memory, whose slots are tracked.</param>
    /// <param name="countsFrequency">True for LFU counters, false for LRU reference bits.</param>
    public AccessTracker(MemoryChunks memory, bool countsFrequency = false)
    {
        ArgumentNullException.ThrowIfNull(memory);
        _memory = memory;
        _counts = countsFrequency;
        AddChunks();
    }

    /// <summary>Bytes the table uses.</summary>
    public long MemoryBytes
    {
        get
        {
            long total = 0;
            foreach (byte[] marks in _marks)
            {
                total += marks.Length;
            }

            return total;
        }
    }

    /// <summary>Bytes the table takes for a chunk of <paramref name="chunkLength"/> bytes.</summary>
    public static ulong BytesFor(ulong chunkLength) => chunkLength / Granularity;

    /// <summary>True when the bytes are LFU counters, false when they are LRU reference bits.</summary>
    public bool CountsFrequency => _counts;

    /// <summary>
    /// Gives every chunk added to the store's memory since the last call its bytes (all unread). Under the
    /// store's lock, before the chunk is registered for remote access, so that no READ of it goes unrecorded.
    /// </summary>
    public void AddChunks()
    {
        byte[][] marks = _marks;
        int count = _memory.Count;
        if (count == marks.Length)
        {
            return;
        }

        var grown = new byte[count][];
        marks.CopyTo(grown, 0);
        for (int i = marks.Length; i < count; i++)
        {
            grown[i] = new byte[BytesFor(_memory[i].Length)];
        }

        _marks = grown;
    }

    /// <summary>
    /// Records a one-sided read of <paramref name="pointer"/>, already checked against its region. Any thread,
    /// no lock. A pointer into a region that is not one of the store's chunks is ignored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void RecordRead(in RemotePointer pointer)
    {
        byte[][] marks = _marks;
        if (_memory.TryLocate(pointer.RKey, pointer.Address, out int chunk, out ulong inChunk) && (uint)chunk < (uint)marks.Length)
        {
            ulong granule = inChunk / Granularity;
            byte[] table = marks[chunk];
            if (granule < (ulong)table.Length)
            {
                Touch(ref table[granule]);
            }
        }
    }

    /// <summary>Records a read of the slot at <paramref name="offset"/> (a store offset) served by the engine.</summary>
    public void Mark(ulong offset) => Touch(ref MarkAt(offset));

    /// <summary>The byte of the slot at <paramref name="offset"/>: its reference bit (LRU) or its counter (LFU).</summary>
    public byte ValueAt(ulong offset) => MarkAt(offset);

    /// <summary>
    /// A key was just written into the slot at <paramref name="offset"/>: unread under LRU, the initial counter
    /// under LFU (<see cref="LogCounter.Initial"/>). Under the store's lock.
    /// </summary>
    public void Admit(ulong offset) => MarkAt(offset) = _counts ? LogCounter.Initial : (byte)0;

    /// <summary>A key moved from slot <paramref name="from"/> to slot <paramref name="to"/>: its history goes with it.</summary>
    public void Carry(ulong from, ulong to) => MarkAt(to) = MarkAt(from);

    /// <summary>The CLOCK hand passing under LRU: true when the slot was read since the last pass, and clears that.</summary>
    public bool TestAndClear(ulong offset)
    {
        ref byte mark = ref MarkAt(offset);
        if (mark == 0)
        {
            return false;
        }

        mark = 0;
        return true;
    }

    /// <summary>The hand passing under LFU: lowers the slot's counter by <paramref name="amount"/> (not below 0) and gives it.</summary>
    public byte Decay(ulong offset, int amount)
    {
        ref byte counter = ref MarkAt(offset);
        int value = counter - amount;
        if (amount > 0)
        {
            counter = value > 0 ? (byte)value : (byte)0;
        }

        return counter;
    }

    private ref byte MarkAt(ulong offset)
    {
        int chunk = _memory.ChunkOf(offset);
        return ref _marks[chunk][(offset - _memory.StartOf(chunk)) / Granularity];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Touch(ref byte mark)
    {
        byte value = mark;
        if (_counts)
        {
            if (LogCounter.ShouldIncrement(value))
            {
                mark = (byte)(value + 1);
            }
        }
        else if (value == 0)
        {
            mark = 1;
        }
    }
}
