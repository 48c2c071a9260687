namespace MirrorKv.Store;

/// <summary>Outcome of applying a replicated slot image on a secondary.</summary>
public enum ApplyStatus : byte
{
    /// <summary>Written at the translated address and indexed.</summary>
    Applied = 0,

    /// <summary>The slot already holds this version or a newer one (a replayed record); nothing changed.</summary>
    AlreadyApplied = 1,

    /// <summary>The engine is not a secondary's store (no primary region mapped, or promoted).</summary>
    NotSecondary = 2,

    /// <summary>The record's primary pointer cannot be translated (unknown region, outside it, crosses a slab).</summary>
    BadAddress = 3,

    /// <summary>The slot size is not a size class, or differs from the class of the slab it lands in.</summary>
    SlotMismatch = 4,

    /// <summary>Version, flags, key or value cannot form an entry of that slot.</summary>
    BadEntry = 5,

    /// <summary>No local slab is left to mirror a new primary slab.</summary>
    OutOfMemory = 6,
}
