using System.Runtime.CompilerServices;
using MirrorKv.Entries;
using MirrorKv.Memory;

namespace MirrorKv.Store;

/// <summary>The secondary side of the store engine: applying the primary's slot images, and promotion.</summary>
public sealed partial class StoreEngine
{
    private bool _isSecondary;
    private TranslationTable? _translation;
    private MirroredRegion[] _primaryRegions = [];

    // Whether the chunk registered at the store's creation mirrors a primary region (see MirrorRegion).
    private bool _ownChunkMirrors;

    /// <summary>True while the engine mirrors a primary and refuses local writes.</summary>
    public bool IsSecondary
    {
        get
        {
            using (Enter())
            {
                return _isSecondary;
            }
        }
    }

    /// <summary>
    /// primary slab -> local slab, learned as records land; null until the engine mirrors a primary.
    /// Kept after promotion, so that pointers into the old primary can still be translated.
    /// </summary>
    public TranslationTable? Translation => _translation;

    /// <summary>
    /// Makes this empty engine the store of a secondary, mirroring the primary region (learned in the handshake, or from a region record
    /// of the stream), or mirrors one more region of the same primary. Local writes are refused from now on until
    /// <see cref="Promote"/>. The region is mirrored by a chunk of this store of the same length, registered now:
    /// the primary's slabs of that region are mirrored by slabs of that chunk, taken from its top down under
    /// <see cref="SlabOrder.Descending"/>, so one local rkey stands for each primary rkey (what TRANSLATION
    /// answers) while every slab keeps a delta of its own. Mirroring the same region again is a no-op.
    /// </summary>
    /// <exception cref="InvalidOperationException">The store holds data of its own, the rkey is mirrored with
    /// another extent, or the chunk cannot be registered (see <see cref="ApplyRegion"/>).</exception>
    public void MirrorPrimaryRegion(uint primaryRKey, ulong primaryBase, ulong primaryLength)
    {
        ApplyStatus status = MirrorRegion(new RemotePointer(primaryRKey, primaryBase, (uint)Math.Min(primaryLength, uint.MaxValue)), primaryLength);
        if (status is not (ApplyStatus.Applied or ApplyStatus.AlreadyApplied))
        {
            throw new InvalidOperationException($"Cannot mirror primary region 0x{primaryRKey:x8} ({primaryLength} bytes at 0x{primaryBase:x}): {status}.");
        }
    }

    /// <summary>
    /// Applies a region record of the stream (the primary registered a chunk: <paramref name="primaryRegion"/> is
    /// its rkey, base and length) as <see cref="MirrorPrimaryRegion"/> does. <see cref="ApplyStatus.OutOfMemory"/>
    /// when this store cannot register a chunk that large (its offset space or its count of regions is full: a
    /// secondary follows what its primary registers, whatever its own <see cref="StoreOptions.MaxMemory"/>, which
    /// applies once it is promoted); <see cref="ApplyStatus.BadAddress"/> for an extent that is no whole number of
    /// slabs or that names a mirrored rkey differently.
    /// </summary>
    public ApplyStatus ApplyRegion(in RemotePointer primaryRegion) => MirrorRegion(primaryRegion, primaryRegion.Length);

    private ApplyStatus MirrorRegion(in RemotePointer primaryRegion, ulong length)
    {
        ulong slab = (ulong)Options.SlabSize;
        if (primaryRegion.RKey == 0 || length == 0 || length % slab != 0 || length > StoreOptions.MaxChunkLimit || primaryRegion.Address > ulong.MaxValue - length)
        {
            return ApplyStatus.BadAddress;
        }

        using (Enter())
        {
            if (!_isSecondary && (_index.Count > 0 || _allocator.ClaimedSlabs > 0))
            {
                throw new InvalidOperationException("Only an empty store can become a secondary's store: this one already holds data.");
            }

            foreach (MirroredRegion mirrored in _primaryRegions)
            {
                if (mirrored.RKey == primaryRegion.RKey)
                {
                    return mirrored.Base == primaryRegion.Address && mirrored.Length == length ? ApplyStatus.AlreadyApplied : ApplyStatus.BadAddress;
                }
            }

            if (_memory.Count >= StoreOptions.MaxChunks || _memory.Length + length > Math.Min(StoreOptions.MaxMemoryLimit, KeyIndex.MaxAddressableBytes))
            {
                return ApplyStatus.OutOfMemory;
            }

            _translation ??= new TranslationTable(Options.SlabSize);

            // A region as long as the store's own first chunk (one slab on both nodes, the default: every primary has
            // such a region) is mirrored onto that chunk, not onto one more: a secondary then holds exactly its
            // primary's memory, and once promoted stays within its limit. With its own chunk besides, it would be a
            // chunk over the limit after a failover, and every later secondary, which copies all of it, one more.
            // (The HELLO reply lists regions in no set order, so any region of that length will do, once.)
            bool reuseOwn = !_ownChunkMirrors && _index.Count == 0 && _allocator.ClaimedSlabs == 0 && _memory.Count > 0 && _memory[0].Length == length;
            _ownChunkMirrors |= reuseOwn;
            MemoryRegion local = reuseOwn ? _memory[0] : AddChunkLocked(length, announce: false);
            _translation.MapRegion(primaryRegion.RKey, primaryRegion.Address, length, local.RKey);
            _primaryRegions = [.. _primaryRegions, new MirroredRegion(primaryRegion.RKey, primaryRegion.Address, length, reuseOwn ? 0 : _memory.Count - 1)];
            _isSecondary = true;
            return ApplyStatus.Applied;
        }
    }

    /// <summary>
    /// Applies one replicated slot image: translates the primary slot to the local one (claiming and mapping
    /// a local slab the first time a primary slab appears), writes the entry with the primary's version, and
    /// keeps the local index. Records must be applied in LSN order; a replayed record is recognised by its
    /// version and skipped.
    /// </summary>
    public ApplyStatus Apply(in SlotChange change)
    {
        int slotSize = (int)Math.Min(change.Slot.Length, int.MaxValue);
        int sizeClass = SizeClasses.ClassFor(slotSize);
        bool span = IsSpanSlotSize(slotSize);
        if (!span && (sizeClass < 0 || SizeClasses.SlotSize(sizeClass) != slotSize))
        {
            return ApplyStatus.SlotMismatch;
        }

        if ((change.Version & 1) != 0 || change.Version == 0 || change.Flags is not (EntryFlags.Live or EntryFlags.Tombstone)
            || change.Key.IsEmpty || change.Key.Length > Options.MaxKeyLength || change.Value.Length > Options.EffectiveMaxValueLength
            || EntryLayout.EntrySize(change.Key.Length, change.Value.Length) > slotSize)
        {
            return ApplyStatus.BadEntry;
        }

        ulong hash = KeyIndex.Hash(change.Key);
        using (Enter())
        {
            if (!_isSecondary || _translation is null)
            {
                return ApplyStatus.NotSecondary;
            }

            TranslationStatus translated = _translation.Current.TryTranslate(change.Slot, out RemotePointer local);
            if (translated == TranslationStatus.UnknownSlab)
            {
                if (span ? !TryMirrorSpanLocked(change.Slot) : !TryMirrorSlabLocked(change.Slot, sizeClass))
                {
                    return ApplyStatus.OutOfMemory;
                }

                translated = _translation.Current.TryTranslate(change.Slot, out local);
            }

            if (translated != TranslationStatus.Ok || !_memory.TryGetOffset(local.RKey, local.Address, out ulong offset))
            {
                return ApplyStatus.BadAddress;
            }

            if (_allocator.SlotSizeAt(offset) != slotSize || offset % (ulong)Options.SlabSize % (ulong)slotSize != 0)
            {
                return ApplyStatus.SlotMismatch;
            }

            Span<byte> slot = _memory.GetSpan(offset, slotSize);
            if (change.Version <= EntryCodec.ReadVersion(slot))
            {
                return ApplyStatus.AlreadyApplied;
            }

            UnindexOverwritten(slot, offset, change.Key, change.Flags);
            EntryCodec.Write(slot, change.Version, change.Key, change.Value, change.Flags);
            _allocator.MarkWritten(offset);
            if (change.Flags == EntryFlags.Live)
            {
                _index.SetUnlessNewer(change.Key, hash, offset, change.Version);
            }

            _lastVersion = Math.Max(_lastVersion, change.Version);
            return ApplyStatus.Applied;
        }
    }

    /// <summary>
    /// Turns the secondary's store into a writable one (the secondary taking over): rebuilds the free lists from the
    /// index (a slot is in use when a key points at it). Versions continue above the highest one applied, so slot reuse stays safe.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Promote()
    {
        using (Enter())
        {
            if (!_isSecondary)
            {
                throw new InvalidOperationException("Only a secondary's store can be promoted.");
            }

            ReleaseUnindexedSpansLocked();

            // The slots in use are the index's, one per live key: see SlabAllocator.BeginRebuild.
            _allocator.BeginRebuild();
            foreach (ulong bucket in _index.Buckets)
            {
                if (bucket != 0)
                {
                    _allocator.MarkInUse(KeyIndex.OffsetOf(bucket));
                }
            }

            _allocator.EndRebuild();
            Array.Clear(_noVolatile);
            ExpectExpiringEntries();
            _isSecondary = false;
        }
    }

    // Under the lock, before a newer image replaces the slot at offset: the live key the slot holds, if the index
    // points here and the image is not that same key live, left this slot on the primary before the image's
    // version (a tombstone, or another key moved in), so it is unindexed. Its newer slot, if it has one, is
    // indexed when that slot's image lands. With SetUnlessNewer this keeps the secondary's index the primary's
    // whatever order copied slabs and stream records arrive in: a key points at the slot of its newest live image.
    private void UnindexOverwritten(ReadOnlySpan<byte> slot, ulong offset, ReadOnlySpan<byte> newKey, EntryFlags newFlags)
    {
        if ((EntryFlags)slot[EntryLayout.FlagsOffset] != EntryFlags.Live)
        {
            return;
        }

        ReadOnlySpan<byte> oldKey = EntryCodec.KeyOf(slot);
        if (newFlags == EntryFlags.Live && oldKey.SequenceEqual(newKey))
        {
            return;
        }

        ulong hash = KeyIndex.Hash(oldKey);
        if (_index.TryGet(oldKey, hash, out ulong indexed) && indexed == offset)
        {
            _index.Remove(oldKey, hash, out _);
        }
    }

    private bool IsIndexedSlot(ulong offset, int slotSize)
    {
        Span<byte> slot = _memory.GetSpan(offset, slotSize);
        if ((EntryFlags)slot[EntryLayout.FlagsOffset] != EntryFlags.Live)
        {
            return false;
        }

        ReadOnlySpan<byte> key = EntryCodec.KeyOf(slot);
        return _index.TryGet(key, KeyIndex.Hash(key), out ulong indexed) && indexed == offset;
    }

    // Under the lock: claims a slab of the chunk that mirrors the primary region of slotInPrimary and maps the
    // primary slab to it. False when that chunk has no unclaimed slab (a primary never has more slabs in a
    // region than the region holds, so this means a record this secondary should not have received).
    private bool TryMirrorSlabLocked(in RemotePointer slotInPrimary, int sizeClass)
    {
        MirroredRegion? region = FindMirrored(slotInPrimary.RKey);
        if (region is null || !_allocator.TryClaimSlabIn(_memory.FirstSlabOf(region.LocalChunk), _memory.SlabsOf(region.LocalChunk), Options.SlabOrder == SlabOrder.Descending, sizeClass, out int slab))
        {
            return false;
        }

        _translation!.MapSlab(slotInPrimary.RKey, PrimarySlabBase(slotInPrimary), _memory.AddressOf((ulong)slab * (ulong)Options.SlabSize));
        return true;
    }

    /// <summary>The rkey of the mirrored primary region that holds <paramref name="primaryAddress"/>, or 0.</summary>
    public uint MirroredRKeyAt(ulong primaryAddress)
    {
        using (Enter())
        {
            foreach (MirroredRegion region in _primaryRegions)
            {
                if (primaryAddress >= region.Base && primaryAddress - region.Base < region.Length)
                {
                    return region.RKey;
                }
            }

            return 0;
        }
    }

    private MirroredRegion? FindMirrored(uint primaryRKey)
    {
        foreach (MirroredRegion region in _primaryRegions)
        {
            if (region.RKey == primaryRKey)
            {
                return region;
            }
        }

        return null;
    }

    private ulong PrimarySlabBase(in RemotePointer primary)
    {
        MirroredRegion region = FindMirrored(primary.RKey) ?? throw new InvalidOperationException($"Primary rkey 0x{primary.RKey:x8} is not mirrored.");
        return region.Base + ((primary.Address - region.Base) & ~((ulong)Options.SlabSize - 1));
    }

    // A primary region this secondary mirrors, and the local chunk that mirrors it.
    private sealed record MirroredRegion(uint RKey, ulong Base, ulong Length, int LocalChunk);
}
