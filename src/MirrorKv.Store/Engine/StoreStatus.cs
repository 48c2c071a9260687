namespace MirrorKv.Store;

/// <summary>Outcome of a store engine operation.</summary>
public enum StoreStatus : byte
{
    /// <summary>Done.</summary>
    Ok = 0,

    /// <summary>The key is not in the store.</summary>
    NotFound = 1,

    /// <summary>Keys must have at least one byte.</summary>
    EmptyKey = 2,

    /// <summary>The key exceeds <see cref="StoreOptions.MaxKeyLength"/>.</summary>
    KeyTooLong = 3,

    /// <summary>The value exceeds <see cref="StoreOptions.EffectiveMaxValueLength"/>.</summary>
    ValueTooLarge = 4,

    /// <summary>No free slot of the entry's size class, no slab in the pool, no empty slab to move to it and nothing the eviction policy may evict (under noeviction: nothing); the store is unchanged.</summary>
    OutOfMemory = 5,

    /// <summary>The engine is a secondary's store: it changes only by applying the primary's records.</summary>
    ReadOnlySecondary = 6,
}
