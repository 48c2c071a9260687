namespace MirrorKv.Memory;

/// <summary>Outcome of translating a primary pointer; every value but <see cref="Ok"/> names what failed.</summary>
public enum TranslationStatus : byte
{
    /// <summary>Translated.</summary>
    Ok = 0,

    /// <summary>No translation is known for the pointer's primary rkey.</summary>
    UnknownRegion = 1,

    /// <summary>The address lies outside the primary region the rkey names.</summary>
    OutsideRegion = 2,

    /// <summary>
    /// The range crosses a slab boundary into a slab not mirrored right after the first: only a large entry crosses
    /// slabs, and its slabs are mirrored contiguously, so the pointer is bogus.
    /// </summary>
    CrossesSlab = 3,

    /// <summary>No record has landed in that primary slab yet, so it has no local slab.</summary>
    UnknownSlab = 4,

    /// <summary>The length is zero.</summary>
    ZeroLength = 5,
}
