namespace MirrorKv.Store;

/// <summary>What a primary does when a write finds no room (redis's <c>maxmemory-policy</c> names).</summary>
public enum EvictionPolicy : byte
{
    /// <summary>Nothing is evicted: a write that finds no room fails with <see cref="StoreStatus.OutOfMemory"/>, store unchanged.</summary>
    NoEviction = 0,

    /// <summary>
    /// Any key may be evicted, the least recently used first, approximately: a CLOCK over the slots of the
    /// writer's size class, with one access byte per slot set by every read (see <see cref="AccessTracker"/>).
    /// </summary>
    AllKeysLru = 1,
}
