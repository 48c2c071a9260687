using MirrorKv.Memory;

namespace MirrorKv.Store;

/// <summary>
/// Memory on demand: the store registers a chunk when a write finds no room and the pool is empty, as long as
/// the chunk fits under <see cref="StoreOptions.MaxMemory"/> with the index and the access table; only past
/// that are empty slabs moved between size classes, and then the eviction policy runs (or the write gets
/// OutOfMemory).
/// </summary>
/// <remarks>
/// <para><b>What counts.</b> Every chunk whole (claimed or not: a chunk is memory the node has taken on, whether or not its pages have been touched yet), the index's
/// bucket array (8 bytes a bucket; it grows by a quarter at 9/10 load, so 8.9 to 11.1 bytes a key) and the access table
/// (a byte per 32 bytes of chunk, under LRU and LFU). Not counted: the .NET runtime and the node's buffers, as
/// redis's <c>maxmemory</c> leaves out its own code and buffers.</para>
/// <para><b>Chunk sizes.</b> The first chunk is one slab, registered at construction; each next one is as large
/// as all the chunks so far (the memory doubles), up to <see cref="StoreOptions.EffectiveMaxChunkSize"/>, and
/// cut to what the limit leaves. A chunk is registered only if the index, too, could still grow under the
/// limit to hold the keys the chunks would then hold at today's average slot size: otherwise the last chunks
/// would take the room the index needs, and new keys would be refused with slots free.</para>
/// <para><b>The index at the limit.</b> A new key that would make the index grow past the limit evicts a key
/// first (or is refused under noeviction), as redis does when its dictionary cannot grow.</para>
/// </remarks>
public sealed partial class StoreEngine
{
    /// <summary>Memory counted against <see cref="StoreOptions.MaxMemory"/> now: chunks, index and access table.</summary>
    public long MemoryUsed
    {
        get
        {
            using (Enter())
            {
                return MemoryUsedLocked();
            }
        }
    }

    /// <summary>
    /// The bytes a local pointer names, for tests, audits and tools: the pointer must lie inside one of this
    /// store's chunks.
    /// </summary>
    public Span<byte> SpanAt(RemotePointer pointer)
    {
        if (!_memory.TryGetOffset(pointer.RKey, pointer.Address, out ulong offset))
        {
            throw new ArgumentOutOfRangeException(nameof(pointer), pointer, "The pointer names no chunk of this store.");
        }

        return _memory.GetSpan(offset, checked((int)pointer.Length));
    }

    private long MemoryUsedLocked() => (long)_memory.Length + _index.MemoryBytes + (Access?.MemoryBytes ?? 0);

    // Under the lock, on a primary whose pool is empty: registers the next chunk if one fits under the limit.
    // minSlabs: the chunk must hold that many (a large entry's span), and is at least that large.
    private bool TryGrowLocked(int minSlabs = 1)
    {
        ulong length = NextChunkLengthLocked((ulong)minSlabs);
        if (length == 0)
        {
            return false;
        }

        AddChunkLocked(length, announce: true);
        return true;
    }

    // Under the lock (or in the constructor). The chunk's slabs go to the pool and its access bytes exist before
    // it is registered, and it is registered (and announced down the stream) before any pointer into it leaves.
    private MemoryRegion AddChunkLocked(ulong length, bool announce)
    {
        MemoryRegion region = _memory.Add(length, _regionAccess);
        _allocator.AddSlabs((int)(length / (ulong)Options.SlabSize));
        Access?.AddChunks();
        _registry?.Register(region);
        if (announce)
        {
            _changes?.AppendRegion(new RemotePointer(region.RKey, region.BaseAddress, (uint)region.Length));
        }

        return region;
    }

    // 0 when no chunk of even one slab fits under the limit (or the store has all the regions it may register).
    private ulong NextChunkLengthLocked(ulong minSlabs)
    {
        if (_memory.Count >= StoreOptions.MaxChunks)
        {
            return 0;
        }

        ulong slab = (ulong)Options.SlabSize;
        ulong wanted = Math.Max(Math.Clamp(_memory.Length, slab, Options.EffectiveMaxChunkSize) / slab, minSlabs);
        ulong room = Options.MaxMemory - Math.Min(Options.MaxMemory, (ulong)MemoryUsedLocked() - (ulong)_index.MemoryBytes);
        ulong addressable = (Math.Min(StoreOptions.MaxMemoryLimit, KeyIndex.MaxAddressableBytes) - Math.Min(_memory.Length, StoreOptions.MaxMemoryLimit)) / slab;

        // The largest number of slabs, up to the wanted ones, whose chunk, access bytes and index reserve fit.
        ulong low = 0, high = Math.Min(wanted, addressable);
        while (low < high)
        {
            ulong slabs = (low + high + 1) / 2;
            if (Fits(slabs * slab))
            {
                low = slabs;
            }
            else
            {
                high = slabs - 1;
            }
        }

        return low < minSlabs ? 0 : low * slab;

        bool Fits(ulong length)
        {
            ulong access = Access is null ? 0 : AccessTracker.BytesFor(length);
            ulong chunks = _memory.Length + length;
            long projectedKeys = _allocator.SlotBytesInUse == 0 ? 0 : (long)((double)_index.Count * chunks / _allocator.SlotBytesInUse);
            ulong index = (ulong)Math.Max(_index.MemoryBytes, KeyIndex.BytesFor(projectedKeys));
            return length + access + index <= room;
        }
    }

    // Under the lock: true when the index may grow now and stay, with everything else, under the limit.
    private bool IndexMayGrowLocked() => (ulong)(MemoryUsedLocked() + _index.GrowthBytes) <= Options.MaxMemory;
}
