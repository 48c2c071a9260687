namespace MirrorKv.Store;

/// <summary>What a successful write did.</summary>
public enum WriteKind : byte
{
    /// <summary>Nothing (the write failed).</summary>
    None = 0,

    /// <summary>A new key got a slot.</summary>
    Inserted = 1,

    /// <summary>The new value fit the key's slot: same pointer, higher version.</summary>
    UpdatedInPlace = 2,

    /// <summary>The key moved to a slot of another size; the old slot is a tombstone.</summary>
    Relocated = 3,

    /// <summary>The key was deleted; its slot is a tombstone.</summary>
    Deleted = 4,
}
