using MirrorKv.Entries;
using MirrorKv.Memory;

namespace MirrorKv.Store;

/// <summary>
/// Update by remote pointer (FIG. 3B of the seed patent: an update "of data at a specified address"): a write
/// that names the slot its client read the key from works on that slot without the index probe, a cache miss
/// in a large index, once the slot is proven to hold the key.
/// </summary>
public sealed partial class StoreEngine
{
    private long _resolvedByPointer;

    /// <summary>Writes that found their key at the caller's pointer and skipped the index (the rest fell back to it).</summary>
    public long ResolvedByPointer => Interlocked.Read(ref _resolvedByPointer);

    /// <summary>
    /// Under the lock: true, with the slot's offset, when <paramref name="at"/> names a slot of this store (a chunk's
    /// rkey, inside it, on a slot boundary of a claimed slab of that slot size) that holds <paramref name="key"/>
    /// live, checksum and all. Under the lock no write is half done, and a key lives in one live slot at a
    /// time, so that slot is the one the index holds. Anything else (no pointer, another node's region, a slot
    /// since relocated, deleted or reused) is false, and the index decides.
    /// </summary>
    private bool TryResolve(RemotePointer at, ReadOnlySpan<byte> key, out ulong offset)
    {
        offset = 0;
        if (at.IsNull || !_memory.TryGetOffset(at.RKey, at.Address, out ulong candidate))
        {
            return false;
        }

        int slotSize = _allocator.SlotSizeAt(candidate);
        ulong inSlab = candidate % (ulong)Options.SlabSize;
        if (slotSize == 0 || at.Length != (uint)slotSize || inSlab % (ulong)slotSize != 0 || (inSlab + (ulong)slotSize > (ulong)Options.SlabSize && inSlab != 0))
        {
            return false;
        }

        // A pending entry (written, not yet published) is whole under the lock: a hot key written again before the
        // ack of its last write keeps its fast path.
        ReadOnlySpan<byte> slot = _memory.GetSpan(candidate, slotSize);
        if (!EntryValidator.TryParseOwned(slot, out _, out _, out EntryFlags flags, out int keyLength, out _)
            || flags != EntryFlags.Live || !slot.Slice(EntryLayout.HeaderSize, keyLength).SequenceEqual(key))
        {
            return false;
        }

        offset = candidate;
        _resolvedByPointer++;
        return true;
    }
}
