using MirrorKv.Entries;
using MirrorKv.Memory;

namespace MirrorKv.Store;

/// <summary>
/// The store engine of a node: registered memory in chunks (registered as the store fills, up to
/// <see cref="StoreOptions.MaxMemory"/>) cut into slabs, the key index, and the entry writer. The adapter
/// calls it for writes, updates, deletes and lookups; never for one-sided reads, which copy slots straight
/// out of the chunks' regions (<see cref="Regions"/>).
/// </summary>
/// <remarks>
/// <para>Thread-safety: every method takes one lock, so two-sided operations are serialized; one-sided
/// readers never take it and are kept safe by the entry format instead (see <see cref="EntryCodec"/>).</para>
/// <para><b>Slot reuse rule.</b> A slot goes back to its slab as soon as it is tombstoned, and may be
/// reused at once, because a one-sided reader holding an old pointer cannot mistake what it finds there:
/// (1) versions come from one store-wide counter, so each entry written into a reused slot has a higher
/// version than anything the slot ever held, and a reader never accepts an entry older than a version it
/// knows; (2) a slab changes size class only once none of its slots is in use, and is scrubbed (zeroed)
/// before its new class cuts it (see StoreEngine.Rebalance.cs), so a pointer with an old boundary lands
/// on zeros (never written: look up), on a header of the new class whose slot size differs from the
/// pointer's length (corrupt), or inside a new entry, where the 64-bit checksum seeded with the version
/// and covering the slot size and lengths rejects the bytes; (3) a reader accepts only the key it asked
/// for. What the reader sees is therefore Torn, Corrupt, Deleted (tombstone or zeros), ForeignKey, or its
/// own key at a newer version, which is that key's current value, since a key lives in exactly one slot
/// at a time.</para>
/// </remarks>
public sealed partial class StoreEngine : IDisposable
{
    private readonly Lock _lock = new();
    private readonly MemoryChunks _memory;
    private readonly SlabAllocator _allocator;
    private readonly KeyIndex _index;
    private readonly IChangeSink? _changes;
    private readonly RegionRegistry? _registry;
    private readonly AccessFlags _regionAccess;
    private ulong _lastVersion;
    private bool _disposed;

    /// <summary>Creates an engine and registers (allocates and zeroes) its first chunk (<see cref="StoreOptions.FirstChunkSize"/>: one slab by default).</summary>
    /// <param name="options">Tunables; <see cref="StoreOptions.Default"/> when null.</param>
    /// <param name="regionAccess">Remote access the chunks allow; a caller's grant narrows it per connection.</param>
    /// <param name="changes">Receives every slot written, in order (the replication stream); null when none.</param>
    /// <param name="registry">
    /// Where the engine registers each chunk for remote access as it adds it, before any pointer into it leaves;
    /// null when the caller registers <see cref="Regions"/> itself.
    /// </param>
    public StoreEngine(StoreOptions? options = null, AccessFlags regionAccess = AccessFlags.RemoteReadWrite, IChangeSink? changes = null, RegionRegistry? registry = null)
    {
        _changes = changes;
        _registry = registry;
        _regionAccess = regionAccess;
        Options = options ?? StoreOptions.Default;
        Options.Validate();
        _memory = new MemoryChunks(Options.SlabSize);
        _allocator = new SlabAllocator(new SizeClassTable(Options.SlabSize), Options.SlabOrder);
        _index = new KeyIndex(_memory, Options.InitialIndexCapacity);
        if (Options.Eviction != EvictionPolicy.NoEviction)
        {
            _clockHands = new ulong[SizeClasses.Count];
            _evictedKey = new byte[Options.MaxKeyLength];
            _noVolatile = new bool[SizeClasses.Count];
            _turnDecay = new byte[SizeClasses.Count];
            _turnStartedMs = new long[SizeClasses.Count];
            Array.Fill(_turnStartedMs, Environment.TickCount64);
            _handTurnStart = new long[SizeClasses.Count];
            _handLastTurn = new long[SizeClasses.Count];
            _evictionsSinceAutomove = new int[SizeClasses.Count];
            if (Options.Eviction is EvictionPolicy.AllKeysLru or EvictionPolicy.AllKeysLfu)
            {
                Access = new AccessTracker(_memory, countsFrequency: Options.Eviction == EvictionPolicy.AllKeysLfu);
            }
        }

        // No record for it: a secondary learns the chunks that exist when it attaches from the HELLO reply.
        AddChunkLocked(Options.FirstChunkSize ?? (ulong)Options.SlabSize, announce: false);
    }

    /// <summary>The options in force.</summary>
    public StoreOptions Options { get; }

    /// <summary>The store's chunks, in the order they were registered: every entry lives in one of them.</summary>
    public IReadOnlyList<MemoryRegion> Regions => _memory.Regions;

    /// <summary>The store's memory: its chunks and the offset space over them.</summary>
    public MemoryChunks Memory => _memory;

    /// <summary>The slot sizes in use.</summary>
    public SizeClassTable SizeClasses => _allocator.Classes;

    /// <summary>Writes <paramref name="key"/>: inserts it, or updates it in place or by relocation.</summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The new value.</param>
    /// <param name="at">
    /// Where the caller believes the key lives (its cached pointer), or null: when the slot there holds the key,
    /// the write works on it without asking the index (see <see cref="TryResolve"/>); otherwise the index decides.
    /// </param>
    public StoreWriteResult Write(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, RemotePointer at = default) => Put(key, value, mustExist: false, at);

    /// <summary>Updates an existing key; <see cref="StoreStatus.NotFound"/> when it is absent.</summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The new value.</param>
    /// <param name="at">The caller's pointer to the key's slot, or null (as for <see cref="Write"/>).</param>
    public StoreWriteResult Update(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, RemotePointer at = default) => Put(key, value, mustExist: true, at);

    /// <summary>Deletes a key: tombstones its slot, unindexes it and frees the slot.</summary>
    /// <param name="key">The key.</param>
    /// <param name="at">
    /// The caller's pointer to the key's slot, or null: when the slot there holds the key, the index entry is
    /// found by its slot, with no key read from the region (see <see cref="TryResolve"/>); otherwise by the key.
    /// </param>
    public StoreWriteResult Delete(ReadOnlySpan<byte> key, RemotePointer at = default)
    {
        StoreStatus status = CheckKey(key);
        if (status != StoreStatus.Ok)
        {
            return StoreWriteResult.Failed(status);
        }

        ulong hash = KeyIndex.Hash(key);
        using (Enter())
        {
            if (_isSecondary)
            {
                return StoreWriteResult.Failed(StoreStatus.ReadOnlySecondary);
            }

            if (!(TryResolve(at, key, out ulong offset) && _index.RemoveSlot(hash, offset)) && !_index.Remove(key, hash, out offset))
            {
                return StoreWriteResult.Failed(StoreStatus.NotFound);
            }

            return DeleteLocked(offset, key);
        }
    }

    // Under the lock, for a key already taken out of the index: tombstones and frees its slot.
    private StoreWriteResult DeleteLocked(ulong offset, ReadOnlySpan<byte> key)
    {
        int slotSize = _allocator.SlotSizeAt(offset);
        ulong version = Tombstone(offset, slotSize, key);
        return new StoreWriteResult(StoreStatus.Ok, WriteKind.Deleted, PointerAt(offset, slotSize), version, default);
    }

    /// <summary>Finds the pointer and current version of a key (the two-sided LOOKUP).</summary>
    public bool TryLookup(ReadOnlySpan<byte> key, out RemotePointer pointer, out ulong version) => TryLookup(key, out pointer, out version, out _);

    /// <summary>
    /// Finds the pointer and current version of a key; <paramref name="pending"/> when the answer is not published
    /// yet: the version found (a one-sided reader of the pointer sees an odd version until <see cref="Publish"/>), or,
    /// when the key is absent, its delete (a tombstone of it waits for the secondary's ack). Either way a caller that
    /// answers must hold the answer until the ack covers the last LSN, as it holds a write's.
    /// </summary>
    public bool TryLookup(ReadOnlySpan<byte> key, out RemotePointer pointer, out ulong version, out bool pending)
    {
        pointer = default;
        version = 0;
        pending = false;
        if (CheckKey(key) != StoreStatus.Ok)
        {
            return false;
        }

        using (Enter())
        {
            return TryLookupLocked(key, out _, out pointer, out version, out pending);
        }
    }

    // LOOKUP's and GET's shared part, under the lock: the entry's offset, pointer and published version (an odd,
    // unpublished one rounds up to the version its publish makes), or the pending state of the key's delete.
    private bool TryLookupLocked(ReadOnlySpan<byte> key, out ulong offset, out RemotePointer pointer, out ulong version, out bool pending)
    {
        ulong hash = KeyIndex.Hash(key);
        if (!_index.TryGet(key, hash, out offset))
        {
            pointer = default;
            version = 0;
            pending = DeletePendingLocked(hash);
            return false;
        }

        int slotSize = _allocator.SlotSizeAt(offset);
        Access?.Mark(offset);
        pointer = PointerAt(offset, slotSize);
        version = EntryCodec.ReadVersion(_memory.GetSpan(offset, slotSize));
        pending = (version & 1) != 0;
        version += version & 1;
        return true;
    }

    /// <summary>Counts of entries, slabs and bytes.</summary>
    public StoreStats GetStats()
    {
        using (Enter())
        {
            return new StoreStats(_index.Count, Options.SlabSize, _allocator.SlabCount, _allocator.ClaimedSlabs, _allocator.SlotBytesInUse, _allocator.FreeSlots, _index.MemoryBytes, _lastVersion, Evictions)
            {
                Chunks = _memory.Count,
                ChunkBytes = (long)_memory.Length,
                AccessTableBytes = Access?.MemoryBytes ?? 0,
                MaxMemory = (long)Options.MaxMemory,
            };
        }
    }

    /// <summary>Indexes of the slabs claimed so far, ascending: the slabs a rejoining peer must copy.</summary>
    public IReadOnlyList<int> GetClaimedSlabs()
    {
        using (Enter())
        {
            var slabs = new List<int>(_allocator.ClaimedSlabs);
            for (int i = 0; i < _allocator.SlabCount; i++)
            {
                if (_allocator.IsClaimed(i))
                {
                    slabs.Add(i);
                }
            }

            return slabs;
        }
    }

    /// <summary>
    /// The claimed slabs with their slot sizes: what a joining secondary copies. A large entry's span is one item, its
    /// first slab with the entry's slot size (more than a slab), to be copied as one range.
    /// </summary>
    public IReadOnlyList<(int Slab, int SlotSize)> GetClaimedSlabLayout()
    {
        using (Enter())
        {
            var layout = new List<(int, int)>(_allocator.ClaimedSlabs);
            for (int i = 0; i < _allocator.SlabCount; i++)
            {
                // A span is listed once, by its first slab and its slot size (more than a slab).
                int slotSize = _allocator.SlotSizeAt((ulong)i * (ulong)Options.SlabSize);
                if (slotSize > 0)
                {
                    layout.Add((i, slotSize));
                }
            }

            return layout;
        }
    }

    /// <summary>
    /// Releases the chunks, once no two-sided operation is inside them: one that comes later throws
    /// <see cref="ObjectDisposedException"/> instead of touching freed memory (a RESP command served on a
    /// thread-pool turn may still be running while its node shuts down). One-sided readers must be gone.
    /// </summary>
    public void Dispose()
    {
        using (_lock.EnterScope())
        {
            if (!_disposed)
            {
                _disposed = true;
                _memory.Dispose();
            }
        }
    }

    // The store's lock, for every two-sided operation; refused once the chunks are released.
    private Lock.Scope Enter()
    {
        Lock.Scope scope = _lock.EnterScope();
        if (_disposed)
        {
            scope.Dispose();
            throw new ObjectDisposedException(nameof(StoreEngine), "the store was released: its node is shutting down");
        }

        return scope;
    }

    private StoreWriteResult Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, bool mustExist, RemotePointer at)
    {
        StoreStatus status = CheckKey(key);
        if (status == StoreStatus.Ok && value.Length > Options.EffectiveMaxValueLength)
        {
            status = StoreStatus.ValueTooLarge;
        }

        if (status != StoreStatus.Ok)
        {
            return StoreWriteResult.Failed(status);
        }

        ulong hash = KeyIndex.Hash(key);
        using (Enter())
        {
            return _isSecondary ? StoreWriteResult.Failed(StoreStatus.ReadOnlySecondary) : PutLocked(key, hash, value, mustExist, at);
        }
    }

    // Under the lock, on a primary's engine, with the key and value checked.
    private StoreWriteResult PutLocked(ReadOnlySpan<byte> key, ulong hash, ReadOnlySpan<byte> value, bool mustExist, RemotePointer at)
    {
        int entrySize = EntryLayout.EntrySize(key.Length, value.Length);
        if (!TryResolve(at, key, out ulong oldOffset) && !_index.TryGet(key, hash, out oldOffset))
        {
            if (mustExist)
            {
                return StoreWriteResult.Failed(StoreStatus.NotFound);
            }

            // A new key may make the index grow; when that would pass the limit, a key goes first (or, under
            // noeviction, the write is refused), as redis refuses or evicts at maxmemory.
            if (_index.GrowsOnNextInsert && !IndexMayGrowLocked() && !TryEvictLocked(entrySize, NoSlot))
            {
                return StoreWriteResult.Failed(StoreStatus.OutOfMemory);
            }

            if (!TryAllocateLocked(entrySize, NoSlot, out ulong offset, out int slotSize))
            {
                return StoreWriteResult.Failed(StoreStatus.OutOfMemory);
            }

            ulong version = WriteEntry(offset, slotSize, key, value);
            _index.Set(key, hash, offset);
            Access?.Admit(offset);
            return new StoreWriteResult(StoreStatus.Ok, WriteKind.Inserted, PointerAt(offset, slotSize), version, default);
        }

        int oldSize = _allocator.SlotSizeAt(oldOffset);
        if (entrySize <= oldSize && FitsSnugly(entrySize, oldSize))
        {
            ulong version = WriteEntry(oldOffset, oldSize, key, value);
            return new StoreWriteResult(StoreStatus.Ok, WriteKind.UpdatedInPlace, PointerAt(oldOffset, oldSize), version, default);
        }

        // Relocate: the new entry is complete and indexed before the old one is tombstoned, so a
        // reader finds the key in one of the two slots at every moment. Out of memory leaves the
        // old entry untouched.
        if (!TryAllocateLocked(entrySize, oldOffset, out ulong newOffset, out int newSize))
        {
            return StoreWriteResult.Failed(StoreStatus.OutOfMemory);
        }

        ulong newVersion = WriteEntry(newOffset, newSize, key, value);
        _index.Set(key, hash, newOffset);
        Access?.Carry(oldOffset, newOffset);
        Tombstone(oldOffset, oldSize, key);
        return new StoreWriteResult(StoreStatus.Ok, WriteKind.Relocated, PointerAt(newOffset, newSize), newVersion, PointerAt(oldOffset, oldSize));
    }

    // A value that shrank to half its slot or less moves to a smaller class rather than waste the rest.
    private bool FitsSnugly(int entrySize, int slotSize) => slotSize == SizeClassTable.MinSlotSize || entrySize * 2 > slotSize;

    // The slot is written unpublished before the record is appended: another thread may flush the peer link at any
    // moment, and the secondary must never apply (and serve) a value while the primary still shows the one before.
    // Whether the entry is published at once is the stream's answer (no secondary to wait for: publish now).
    private ulong WriteEntry(ulong offset, int slotSize, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        ulong version = _lastVersion += 2;
        Span<byte> slot = _memory.GetSpan(offset, slotSize);
        EntryCodec.Write(slot, version, key, value, EntryFlags.Live, pending: true);
        NoteExpiringWrite(value);
        if (Options.Eviction == EvictionPolicy.VolatileTtl)
        {
            NoteVolatileWrite(slotSize, value);
        }

        ulong publishAfter = _changes?.Append(new SlotChange(PointerAt(offset, slotSize), version, EntryFlags.Live, key, value)) ?? 0;
        PublishNowOrHold(slot, offset, version, publishAfter, isTombstone: false, keyHash: 0);
        return version;
    }

    // The slot is freed at once, published or not: the queue keeps what an unpublished tombstone still needs (the
    // key's hash, see StoreEngine.Publication.cs), and a write that evicted the key takes the slot at once.
    private ulong Tombstone(ulong offset, int slotSize, ReadOnlySpan<byte> key)
    {
        ulong version = _lastVersion += 2;
        Span<byte> slot = _memory.GetSpan(offset, slotSize);
        EntryCodec.Write(slot, version, key, [], EntryFlags.Tombstone, pending: true);
        ulong publishAfter = _changes?.Append(new SlotChange(PointerAt(offset, slotSize), version, EntryFlags.Tombstone, key, [])) ?? 0;
        PublishNowOrHold(slot, offset, version, publishAfter, isTombstone: true, publishAfter == 0 ? 0 : KeyIndex.Hash(key));
        int slab = _allocator.SlabOf(offset);
        if (_allocator.IsSpanHead(slab))
        {
            ReleaseSpanLocked(slab);
        }
        else
        {
            _allocator.Free(offset);
        }

        return version;
    }

    private StoreStatus CheckKey(ReadOnlySpan<byte> key) =>
        key.IsEmpty ? StoreStatus.EmptyKey : key.Length > Options.MaxKeyLength ? StoreStatus.KeyTooLong : StoreStatus.Ok;

    private RemotePointer PointerAt(ulong offset, int slotSize) => _memory.PointerAt(offset, (uint)slotSize);
}
