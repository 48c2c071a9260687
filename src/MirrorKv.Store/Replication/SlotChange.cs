using MirrorKv.Entries;
using MirrorKv.Memory;

namespace MirrorKv.Store;

/// <summary>
/// The new image of one slot, as the primary wrote it: what a replication record carries. The slot is
/// named by its primary pointer (rkey, address, slot size); the secondary translates it per slab.
/// Replication is of slot images rather than of operations, so applying a record needs no decision the
/// primary did not already take, and a relocation is simply two records (new slot live, old slot tombstone).
/// </summary>
/// <param name="Slot">The slot on the primary; its length is the slot size.</param>
/// <param name="Version">The entry's version (even).</param>
/// <param name="Flags">Live or Tombstone.</param>
/// <param name="Key">The key.</param>
/// <param name="Value">The value (empty for a tombstone).</param>
public readonly ref struct SlotChange(RemotePointer Slot, ulong Version, EntryFlags Flags, ReadOnlySpan<byte> Key, ReadOnlySpan<byte> Value)
{
    /// <summary>The slot on the primary.</summary>
    public RemotePointer Slot { get; } = Slot;

    /// <summary>The entry's version.</summary>
    public ulong Version { get; } = Version;

    /// <summary>Live or Tombstone.</summary>
    public EntryFlags Flags { get; } = Flags;

    /// <summary>The key.</summary>
    public ReadOnlySpan<byte> Key { get; } = Key;

    /// <summary>The value.</summary>
    public ReadOnlySpan<byte> Value { get; } = Value;
}
