namespace MirrorKv.Adapter;

/// <summary>When the primary acknowledges a write.</summary>
public enum ReplicationMode
{
    /// <summary>After the secondary applied it (the default): an acknowledged write survives the loss of either node.</summary>
    Sync,

    /// <summary>At once; the secondary may lag. Faster, and an acknowledged write can be lost with the primary.</summary>
    Async,
}
