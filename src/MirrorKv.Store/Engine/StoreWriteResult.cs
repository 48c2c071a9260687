using MirrorKv.Memory;

namespace MirrorKv.Store;

/// <summary>Result of a write, update or delete.</summary>
/// <param name="Status">Ok or why not.</param>
/// <param name="Kind">What was done.</param>
/// <param name="Pointer">Where the entry now lives (for a delete: the tombstoned slot).</param>
/// <param name="Version">The version the entry now carries.</param>
/// <param name="PreviousPointer">For a relocation, the slot the key left (now a tombstone); else null.</param>
public readonly record struct StoreWriteResult(StoreStatus Status, WriteKind Kind, RemotePointer Pointer, ulong Version, RemotePointer PreviousPointer)
{
    /// <summary>A failed result.</summary>
    public static StoreWriteResult Failed(StoreStatus status) => new(status, WriteKind.None, default, 0, default);

    /// <summary>True when <see cref="Status"/> is <see cref="StoreStatus.Ok"/>.</summary>
    public bool IsOk => Status == StoreStatus.Ok;
}
