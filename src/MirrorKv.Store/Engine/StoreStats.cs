namespace MirrorKv.Store;

/// <summary>A point-in-time account of a store's memory.</summary>
/// <param name="Entries">Live keys.</param>
/// <param name="SlabSize">Bytes per slab.</param>
/// <param name="SlabCount">Slabs in the region.</param>
/// <param name="ClaimedSlabs">Slabs claimed by some size class.</param>
/// <param name="SlotBytesInUse">Bytes of slots holding live entries.</param>
/// <param name="FreeSlots">Slots on free lists.</param>
/// <param name="IndexBytes">Bytes of the key index.</param>
/// <param name="LastVersion">Highest version written.</param>
/// <param name="Evictions">Keys evicted to make room for writes since start.</param>
public readonly record struct StoreStats(long Entries, int SlabSize, int SlabCount, int ClaimedSlabs, long SlotBytesInUse, long FreeSlots, long IndexBytes, ulong LastVersion, long Evictions = 0)
{
    /// <summary>Memory the store uses for data: claimed slabs plus the index (unclaimed slabs hold nothing).</summary>
    public long UsedBytes => ((long)ClaimedSlabs * SlabSize) + IndexBytes;

    /// <summary>Chunks (registered regions) the store holds.</summary>
    public int Chunks { get; init; }

    /// <summary>Bytes of the store's chunks: registered, and so resident.</summary>
    public long ChunkBytes { get; init; }

    /// <summary>Bytes of the access table (LRU and LFU only).</summary>
    public long AccessTableBytes { get; init; }

    /// <summary>The limit in force (<see cref="StoreOptions.MaxMemory"/>).</summary>
    public long MaxMemory { get; init; }

    /// <summary>What counts against <see cref="MaxMemory"/>: chunks, index and access table.</summary>
    public long MemoryUsed => ChunkBytes + IndexBytes + AccessTableBytes;
}
