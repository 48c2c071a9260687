using System.Numerics;

namespace MirrorKv.Memory;

/// <summary>
/// Per primary region: primary slab base -> local slab base (a delta per slab). Writers (the
/// replication apply loop, or a client rewriting its table) serialize on a lock and publish a new
/// immutable <see cref="TranslationSnapshot"/>; readers use <see cref="Current"/> without locks.
/// </summary>
/// <remarks>
/// Publishing copies one region's slab array, O(slabs) per change. A slab is learned once per
/// incarnation, and learned again only when the primary moves it to another size class (a slab
/// rebalance, rare by design: a whole slab must be empty first), so this cost is never on the read path.
/// </remarks>
public sealed class TranslationTable
{
    private readonly Lock _writeLock = new();
    private readonly HashSet<(uint LocalRKey, ulong LocalSlabBase)> _usedLocalSlabs = [];
    private volatile TranslationSnapshot _current;

    /// <summary>Creates an empty table for slabs of <paramref name="slabSize"/> bytes (a power of two).</summary>
    public TranslationTable(int slabSize)
    {
        if (slabSize <= 0 || !BitOperations.IsPow2(slabSize))
        {
            throw new ArgumentOutOfRangeException(nameof(slabSize), slabSize, "The slab size must be a positive power of two.");
        }

        _current = TranslationSnapshot.Empty(slabSize);
    }

    /// <summary>The latest snapshot; never null, never mutated.</summary>
    public TranslationSnapshot Current => _current;

    /// <summary>Translates through the current snapshot; see <see cref="TranslationSnapshot.Translate"/>.</summary>
    public RemotePointer Translate(in RemotePointer primary) => _current.Translate(primary);

    /// <summary>
    /// Declares a primary region (learned in the handshake) and the local rkey its pointers translate to.
    /// Declaring the same region again with the same values is a no-op.
    /// </summary>
    public void MapRegion(uint primaryRKey, ulong primaryBase, ulong primaryLength, uint localRKey)
    {
        if (primaryRKey == 0 || localRKey == 0)
        {
            throw new ArgumentException("rkey 0 is never issued.", nameof(primaryRKey));
        }

        int slabSize = _current.SlabSize;
        if (primaryLength == 0 || primaryLength % (ulong)slabSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(primaryLength), primaryLength, $"A region's length must be a positive multiple of the slab size ({slabSize}).");
        }

        if (primaryBase > ulong.MaxValue - primaryLength)
        {
            throw new ArgumentOutOfRangeException(nameof(primaryBase), primaryBase, "The region would end past the top of the address space.");
        }

        lock (_writeLock)
        {
            TranslationSnapshot current = _current;
            RegionTranslation? existing = current.FindRegion(primaryRKey);
            if (existing is not null)
            {
                if (existing.PrimaryBase == primaryBase && existing.PrimaryLength == primaryLength && existing.LocalRKey == localRKey)
                {
                    return;
                }

                throw new InvalidOperationException($"Primary rkey 0x{primaryRKey:x8} is already mapped with a different base, length or local rkey.");
            }

            var region = new RegionTranslation(primaryRKey, primaryBase, primaryLength, localRKey, BitOperations.Log2((uint)slabSize), new ulong[primaryLength / (ulong)slabSize]);
            _current = new TranslationSnapshot([.. current.Regions, region], slabSize);
        }
    }

    /// <summary>
    /// Records that the primary slab at <paramref name="primarySlabBase"/> is mirrored by the local slab at
    /// <paramref name="localSlabBase"/>. Mapping the same pair again is a no-op; mapping a slab to a second
    /// place, or two primary slabs to one local slab, is refused, since either would serve foreign bytes.
    /// </summary>
    public void MapSlab(uint primaryRKey, ulong primarySlabBase, ulong localSlabBase)
    {
        lock (_writeLock)
        {
            TranslationSnapshot current = _current;
            int index = SlabIndex(current, primaryRKey, primarySlabBase, out RegionTranslation region);

            if (localSlabBase == 0)
            {
                throw new ArgumentOutOfRangeException(nameof(localSlabBase), "A local slab base cannot be 0.");
            }

            ulong known = region.LocalSlabBases[index];
            if (known == localSlabBase)
            {
                return;
            }

            if (known != 0)
            {
                throw new InvalidOperationException($"Primary slab 0x{primarySlabBase:x} is already mirrored at 0x{known:x}, not 0x{localSlabBase:x}.");
            }

            if (!_usedLocalSlabs.Add((region.LocalRKey, localSlabBase)))
            {
                throw new InvalidOperationException($"Local slab 0x{localSlabBase:x} already mirrors another primary slab.");
            }

            RegionTranslation[] regions = (RegionTranslation[])current.Regions.Clone();
            regions[Array.IndexOf(regions, region)] = region.WithSlab(index, localSlabBase);
            _current = new TranslationSnapshot(regions, current.SlabSize);
        }
    }

    /// <summary>
    /// Forgets the local slab of the primary slab at <paramref name="primarySlabBase"/>: the primary gave that
    /// slab back to its pool, and its next records there belong to another size class, mapped afresh with
    /// <see cref="MapSlab"/>. Pointers into it get <see cref="TranslationStatus.UnknownSlab"/> meanwhile.
    /// Forgetting a slab with no mapping is a no-op.
    /// </summary>
    public void UnmapSlab(uint primaryRKey, ulong primarySlabBase)
    {
        lock (_writeLock)
        {
            TranslationSnapshot current = _current;
            int index = SlabIndex(current, primaryRKey, primarySlabBase, out RegionTranslation region);

            ulong known = region.LocalSlabBases[index];
            if (known == 0)
            {
                return;
            }

            _usedLocalSlabs.Remove((region.LocalRKey, known));
            RegionTranslation[] regions = (RegionTranslation[])current.Regions.Clone();
            regions[Array.IndexOf(regions, region)] = region.WithSlab(index, 0);
            _current = new TranslationSnapshot(regions, current.SlabSize);
        }
    }

    // The index of the primary slab at primarySlabBase in its region, or an exception naming what is wrong.
    private static int SlabIndex(TranslationSnapshot current, uint primaryRKey, ulong primarySlabBase, out RegionTranslation region)
    {
        region = current.FindRegion(primaryRKey)
            ?? throw new InvalidOperationException($"Primary rkey 0x{primaryRKey:x8} has not been mapped; call MapRegion first.");
        ulong slabMask = (ulong)current.SlabSize - 1;
        if (primarySlabBase < region.PrimaryBase || primarySlabBase - region.PrimaryBase >= region.PrimaryLength || ((primarySlabBase - region.PrimaryBase) & slabMask) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(primarySlabBase), $"0x{primarySlabBase:x} is not the base of a slab of primary region 0x{primaryRKey:x8}.");
        }

        return (int)((primarySlabBase - region.PrimaryBase) >> region.SlabShift);
    }
}
