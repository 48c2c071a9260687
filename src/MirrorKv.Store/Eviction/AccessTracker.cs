using System.Runtime.CompilerServices;
using MirrorKv.Memory;

namespace MirrorKv.Store;

/// <summary>
/// One access byte per slot of a store's region: the reference bits of the CLOCK that picks what to evict.
/// Readers set a slot's byte; the evictor's hand clears it as it passes, and evicts a slot whose byte it finds
/// clear (not read since the hand's last pass).
/// </summary>
/// <remarks>
/// <para>Why this shape: one-sided READs are served by the adapter without the store engine or its lock, so
/// recording one must cost the read path nothing measurable. A byte per 32-byte granule (the smallest slot)
/// gives every slot a byte of its own at the granule of its start, whatever its size class, so a read is one
/// plain load and, only when the byte is clear, one plain store: no lock, no interlocked instruction, no
/// allocation, and no cache line dirtied by the reads of a key already marked (hot keys stay shared between
/// cores). Stores are relaxed: a reader's mark and the hand's clear may race, and then one of the two is lost,
/// which at worst evicts a key read in that instant or gives another a second pass. The approximation is the
/// price of a read path that takes no lock; the entry format, not this table, keeps readers safe.</para>
/// <para>Cost: 1/32 of the region (8 MiB for 256 MiB), only under an evicting policy.</para>
/// <para>A hardware adapter cannot run this code on a READ: there the NIC would count READs per page or MR
/// (or mirror accessed bits from the IOMMU/ATS page tables), or the client library would post a batched,
/// unsignalled one-sided WRITE or FETCH_AND_ADD to this same table every N reads; the CLOCK here reads the
/// table the same way whichever way it was filled.</para>
/// </remarks>
public sealed class AccessTracker
{
    /// <summary>Bytes of region per access byte: the smallest slot, so no two slots share a byte.</summary>
    public const int Granularity = SizeClassTable.MinSlotSize;

    private readonly byte[] _marks;
    private readonly uint _rkey;
    private readonly ulong _base;

    /// <summary>Creates the table for <paramref name="region"/>, every slot unread.</summary>
    public AccessTracker(MemoryRegion region)
    {
        ArgumentNullException.ThrowIfNull(region);
        _marks = new byte[region.Length / Granularity];
        _rkey = region.RKey;
        _base = region.BaseAddress;
    }

    /// <summary>Bytes the table uses.</summary>
    public long MemoryBytes => _marks.Length;

    /// <summary>
    /// Records a one-sided read of <paramref name="pointer"/>, already checked against the region. Any thread,
    /// no lock. A pointer into another region is ignored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void RecordRead(in RemotePointer pointer)
    {
        ulong granule = (pointer.Address - _base) / Granularity;
        if (pointer.RKey == _rkey && granule < (ulong)_marks.Length)
        {
            ref byte mark = ref _marks[granule];
            if (mark == 0)
            {
                mark = 1;
            }
        }
    }

    /// <summary>Marks the slot at <paramref name="offset"/> (a region offset) as just used.</summary>
    public void Mark(ulong offset)
    {
        ref byte mark = ref _marks[offset / Granularity];
        if (mark == 0)
        {
            mark = 1;
        }
    }

    /// <summary>The CLOCK hand passing: true when the slot was used since the last pass, and clears that.</summary>
    public bool TestAndClear(ulong offset)
    {
        ref byte mark = ref _marks[offset / Granularity];
        if (mark == 0)
        {
            return false;
        }

        mark = 0;
        return true;
    }
}
