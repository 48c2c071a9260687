using MirrorKv.Memory;

namespace MirrorKv.Store;

/// <summary>The replica side of the store engine: applying the primary's slot images, and promotion.</summary>
public sealed partial class StoreEngine
{
    private bool _isReplica;
    private TranslationTable? _translation;
    private (uint RKey, ulong Base)[] _primaryRegions = [];

    /// <summary>True while the engine mirrors a primary and refuses local writes.</summary>
    public bool IsReplica
    {
        get
        {
            lock (_lock)
            {
                return _isReplica;
            }
        }
    }

    /// <summary>
    /// primary slab -> local slab, learned as records land; null until the engine mirrors a primary.
    /// Kept after promotion, so that pointers into the old primary can still be translated.
    /// </summary>
    public TranslationTable? Translation => _translation;

    /// <summary>
    /// Makes this empty engine a replica of the primary region (learned in the handshake). Local writes are
    /// refused from now on until <see cref="Promote"/>. Mirroring more regions of the same primary is allowed.
    /// </summary>
    public void MirrorPrimaryRegion(uint primaryRKey, ulong primaryBase, ulong primaryLength)
    {
        lock (_lock)
        {
            if (!_isReplica && (_index.Count > 0 || _allocator.ClaimedSlabs > 0))
            {
                throw new InvalidOperationException("Only an empty store can become a replica: this one already holds data.");
            }

            _translation ??= new TranslationTable(Options.SlabSize);
            _translation.MapRegion(primaryRKey, primaryBase, primaryLength, Region.RKey);
            _primaryRegions = [.. _primaryRegions, (primaryRKey, primaryBase)];
            _isReplica = true;
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
        if (sizeClass < 0 || SizeClasses.SlotSize(sizeClass) != slotSize)
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
        lock (_lock)
        {
            if (!_isReplica || _translation is null)
            {
                return ApplyStatus.NotReplica;
            }

            TranslationStatus translated = _translation.Current.TryTranslate(change.Slot, out RemotePointer local);
            if (translated == TranslationStatus.UnknownSlab)
            {
                if (!_allocator.TryClaimSlab(sizeClass, out int slab))
                {
                    return ApplyStatus.OutOfMemory;
                }

                _translation.MapSlab(change.Slot.RKey, PrimarySlabBase(change.Slot), Region.AddressOf((ulong)slab * (ulong)Options.SlabSize));
                translated = _translation.Current.TryTranslate(change.Slot, out local);
            }

            if (translated != TranslationStatus.Ok)
            {
                return ApplyStatus.BadAddress;
            }

            ulong offset = local.Address - Region.BaseAddress;
            if (_allocator.SlotSizeAt(offset) != slotSize || offset % (ulong)Options.SlabSize % (ulong)slotSize != 0)
            {
                return ApplyStatus.SlotMismatch;
            }

            Span<byte> slot = Region.GetSpan(offset, slotSize);
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
    /// Turns the replica into a writable store (the secondary taking over): rebuilds the free lists from the
    /// slots themselves. Versions continue above the highest one applied, so slot reuse stays safe.
    /// </summary>
    public void Promote()
    {
        lock (_lock)
        {
            if (!_isReplica)
            {
                throw new InvalidOperationException("Only a replica can be promoted.");
            }

            _allocator.Rebuild(IsIndexedSlot);
            Array.Clear(_noVolatile);
            _isReplica = false;
        }
    }

    // Under the lock, before a newer image replaces the slot at offset: the live key the slot holds, if the index
    // points here and the image is not that same key live, left this slot on the primary before the image's
    // version (a tombstone, or another key moved in), so it is unindexed. Its newer slot, if it has one, is
    // indexed when that slot's image lands. With SetUnlessNewer this keeps the replica's index the primary's
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
        Span<byte> slot = Region.GetSpan(offset, slotSize);
        if ((EntryFlags)slot[EntryLayout.FlagsOffset] != EntryFlags.Live)
        {
            return false;
        }

        ReadOnlySpan<byte> key = EntryCodec.KeyOf(slot);
        return _index.TryGet(key, KeyIndex.Hash(key), out ulong indexed) && indexed == offset;
    }

    private ulong PrimarySlabBase(in RemotePointer primary)
    {
        foreach ((uint rkey, ulong regionBase) in _primaryRegions)
        {
            if (rkey == primary.RKey)
            {
                return regionBase + ((primary.Address - regionBase) & ~((ulong)Options.SlabSize - 1));
            }
        }

        throw new InvalidOperationException($"Primary rkey 0x{primary.RKey:x8} is not mirrored.");
    }
}
