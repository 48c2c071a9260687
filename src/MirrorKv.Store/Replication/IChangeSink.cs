using MirrorKv.Memory;

namespace MirrorKv.Store;

/// <summary>
/// Receives every slot a primary store writes, and every slab it gives back to its pool, in the order it
/// did them: the adapter's replication stream assigns LSNs here.
/// </summary>
/// <remarks>
/// Called on the writing thread while the engine holds its lock, so the order of calls is the order of
/// writes. Must not block and must not call back into the engine; copy what it needs, since the spans
/// are only valid during the call.
/// </remarks>
public interface IChangeSink
{
    /// <summary>One slot is being written.</summary>
    /// <returns>
    /// 0 when the change may be visible to one-sided readers at once; otherwise the LSN that must be acknowledged
    /// (<see cref="StoreEngine.Publish"/>) before it is: the secondary must hold a value before any reader of the
    /// primary sees it (docs/failover.md, "Publish after replication").
    /// </returns>
    ulong Append(in SlotChange change);

    /// <summary>
    /// A slab none of whose slots was in use went back to the pool, scrubbed, to be claimed by another size
    /// class: <paramref name="slab"/> is its whole extent on the primary (rkey, base address, slab size). Every
    /// slot of it was tombstoned or never written by changes already appended, and none holds a live entry still
    /// waiting to be published (a tombstone still waiting may be among them: its ack finds the slot gone).
    /// </summary>
    void AppendSlabRelease(in RemotePointer slab);

    /// <summary>
    /// The store registered a new chunk: <paramref name="region"/> is its whole extent (rkey, base address,
    /// length), appended before any slot of it is written. A secondary mirrors it with a chunk of its own.
    /// </summary>
    void AppendRegion(in RemotePointer region);
}
