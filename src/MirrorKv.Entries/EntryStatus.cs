namespace MirrorKv.Entries;

/// <summary>
/// Verdict on bytes copied out of a slot by a one-sided reader. Only <see cref="Ok"/> entries are
/// ever returned to a caller as a value.
/// </summary>
public enum EntryStatus : byte
{
    /// <summary>Even version, live, the expected key, checksum matches: the value can be used.</summary>
    Ok = 0,

    /// <summary>The copy raced a writer: odd version, or a checksum that does not match. Retry.</summary>
    Torn = 1,

    /// <summary>Older than the version the reader already knows of this key. Retry or look up.</summary>
    Stale = 2,

    /// <summary>Tombstone or never-written slot: the key was deleted or moved. Look up.</summary>
    Deleted = 3,

    /// <summary>The slot now holds another key (it was reused). Look up.</summary>
    ForeignKey = 4,

    /// <summary>The header cannot describe an entry of this slot (bad lengths, size or flags). Retry, then look up.</summary>
    Corrupt = 5,
}
