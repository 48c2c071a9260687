namespace MirrorKv.Store;

/// <summary>In which order a store claims the slabs of its region.</summary>
public enum SlabOrder
{
    /// <summary>From the region's base upwards (the primary's default).</summary>
    Ascending,

    /// <summary>From the region's top downwards. The secondary uses it so that its slab order, and so its
    /// per-slab deltas, differ from the primary's by construction.</summary>
    Descending,
}
