namespace MirrorKv.Memory;

/// <summary>
/// Immutable translation of one primary region: primary slab index -> local slab base.
/// A local base of 0 means "not known yet" (no real slab lives at address 0).
/// </summary>
internal sealed class RegionTranslation(uint primaryRKey, ulong primaryBase, ulong primaryLength, uint localRKey, int slabShift, ulong[] localSlabBases)
{
    public uint PrimaryRKey { get; } = primaryRKey;

    public ulong PrimaryBase { get; } = primaryBase;

    public ulong PrimaryLength { get; } = primaryLength;

    public uint LocalRKey { get; } = localRKey;

    public int SlabShift { get; } = slabShift;

    // Never written after publication: writers copy the array and publish a new instance.
    public ulong[] LocalSlabBases { get; } = localSlabBases;

    public RegionTranslation WithSlab(int slabIndex, ulong localSlabBase)
    {
        var bases = (ulong[])LocalSlabBases.Clone();
        bases[slabIndex] = localSlabBase;
        return new RegionTranslation(PrimaryRKey, PrimaryBase, PrimaryLength, LocalRKey, SlabShift, bases);
    }
}
