using MirrorKv.Entries;

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

    /// <summary>
    /// Any key may be evicted, the least frequently used first, approximately: the access byte of a slot is a
    /// logarithmic read counter (redis's LFU counter) that reads raise and the CLOCK's hand decays as it passes;
    /// the victim is the lowest counter among a few slots sampled at the hand (see <see cref="AccessTracker"/>).
    /// </summary>
    AllKeysLfu = 2,

    /// <summary>
    /// Only keys with an expiry (a <see cref="ValueExpiry"/> prefix) may be evicted, the one nearest to expiring
    /// first among a few sampled at the hand; a store with no such key left refuses the write as under
    /// <see cref="NoEviction"/>. No access table: reads are not recorded.
    /// </summary>
    VolatileTtl = 3,
}
