namespace MirrorKv.Memory;

/// <summary>One primary slab and the local slab that mirrors it; offsets inside the two are identical.</summary>
/// <param name="PrimarySlabBase">Address of the slab in the primary's region.</param>
/// <param name="LocalSlabBase">Address of the mirroring slab in the local region.</param>
public readonly record struct SlabMapping(ulong PrimarySlabBase, ulong LocalSlabBase)
{
    /// <summary>local = primary + delta, for every address inside the slab (two's complement wrap).</summary>
    public long Delta => unchecked((long)(LocalSlabBase - PrimarySlabBase));
}
