namespace MirrorKv.Entries;

/// <summary>State of an entry. A zeroed (never written) slot has no flag set.</summary>
[Flags]
public enum EntryFlags : byte
{
    /// <summary>Never written, or freed before any write.</summary>
    None = 0,

    /// <summary>The entry holds the current value of its key.</summary>
    Live = 1,

    /// <summary>The key was deleted or moved away; the slot may be reused.</summary>
    Tombstone = 2,
}
