using MirrorKv.Entries;
using MirrorKv.Memory;

namespace MirrorKv.Store;

/// <summary>
/// The joining secondary's bulk path: the image of a whole primary slab, copied with one one-sided READ while
/// the primary kept writing, applied in one call instead of one <see cref="Apply"/> per slot.
/// </summary>
public sealed partial class StoreEngine
{
    // Slots copied and hashed ahead of their index insertions, so that the insertions' cache misses overlap.
    private const int IndexWindow = 16;

    /// <summary>
    /// Applies the image of the primary slab at <paramref name="primarySlabBase"/> (slots of
    /// <paramref name="slotSize"/> bytes): claims and maps a local slab for it the first time, then, slot by
    /// slot, validates the image as a one-sided reader would (even version, sane lengths, checksum) and copies
    /// it over the local slot only when it is newer, indexing live entries. A torn image is skipped: the write
    /// that tore it came after the stream started, so its record is in the stream. An image no newer than the
    /// local slot is skipped: the stream already wrote that slot. Copy and stream therefore need no ordering, but
    /// for one rule: a slab the stream released after the copy was planned is skipped whole (its slot size may
    /// have changed, and nothing in it outlived the release), so an image read after a release must be applied
    /// after that release's record. The peer link gives it: the primary posts the READ reply on the connection
    /// that carries the stream, after every record it posted before serving the READ.
    /// </summary>
    /// <param name="primaryRKey">The primary region's rkey (mirrored with <see cref="MirrorPrimaryRegion"/>).</param>
    /// <param name="primarySlabBase">The slab's base address on the primary.</param>
    /// <param name="slotSize">The slab's slot size, as the primary reported it.</param>
    /// <param name="image">
    /// The whole slab as read: <see cref="StoreOptions.SlabSize"/> bytes; for a large entry's span (a slot size of more
    /// than a slab), its one slot: <paramref name="slotSize"/> bytes from the span's first slab.
    /// </param>
    public SlabCopyResult ApplySlabCopy(uint primaryRKey, ulong primarySlabBase, int slotSize, ReadOnlySpan<byte> image)
    {
        int sizeClass = SizeClasses.ClassFor(slotSize);
        bool span = IsSpanSlotSize(slotSize);
        if (!span && (sizeClass < 0 || SizeClasses.SlotSize(sizeClass) != slotSize))
        {
            return SlabCopyResult.Failed(ApplyStatus.SlotMismatch);
        }

        if (image.Length != Math.Max(Options.SlabSize, slotSize))
        {
            return SlabCopyResult.Failed(ApplyStatus.BadEntry);
        }

        using (Enter())
        {
            if (!_isSecondary || _translation is null)
            {
                return SlabCopyResult.Failed(ApplyStatus.NotSecondary);
            }

            // Released since this engine began to mirror: the slab was empty on the primary at a point of the
            // stream already applied, so everything the copy holds was freed or rewritten by later records.
            if (_releasedPrimarySlabs.Contains((primaryRKey, primarySlabBase)))
            {
                return new SlabCopyResult(ApplyStatus.Applied, 0, 0, 0);
            }

            var first = new RemotePointer(primaryRKey, primarySlabBase, (uint)slotSize);
            TranslationStatus translated = _translation.Current.TryTranslate(first, out RemotePointer local);

            // A slab no record has reached yet: claimed now, so every local slot is blank and the copy needs
            // neither version compares nor the seqlock.
            bool fresh = false;
            if (translated == TranslationStatus.UnknownSlab)
            {
                if (PrimarySlabBase(first) != primarySlabBase)
                {
                    return SlabCopyResult.Failed(ApplyStatus.BadAddress);
                }

                if (span ? !TryMirrorSpanLocked(first) : !TryMirrorSlabLocked(first, sizeClass))
                {
                    return SlabCopyResult.Failed(ApplyStatus.OutOfMemory);
                }

                translated = _translation.Current.TryTranslate(first, out local);
                fresh = true;
            }

            ulong slabOffset = 0;
            if (translated != TranslationStatus.Ok || !_memory.TryGetOffset(local.RKey, local.Address, out slabOffset) || slabOffset % (ulong)Options.SlabSize != 0)
            {
                return SlabCopyResult.Failed(ApplyStatus.BadAddress);
            }

            return _allocator.SlotSizeAt(slabOffset) != slotSize
                ? SlabCopyResult.Failed(ApplyStatus.SlotMismatch)
                : CopySlots(image, slabOffset, slotSize, fresh);
        }
    }

    // Under the lock. Indexing waits in a window of IndexWindow slots whose buckets were prefetched; the window
    // is drained before any slot that already holds an entry is overwritten, so that the index sees every
    // change in slot order.
    private SlabCopyResult CopySlots(ReadOnlySpan<byte> image, ulong slabOffset, int slotSize, bool fresh)
    {
        Span<byte> slab = _memory.GetSpan(slabOffset, image.Length);
        Span<int> waiting = stackalloc int[IndexWindow];
        Span<ulong> hashes = stackalloc ulong[IndexWindow];
        int waitingCount = 0;
        int applied = 0, torn = 0, notNewer = 0, end = 0;
        ulong newest = 0;
        for (int at = 0; at + slotSize <= slab.Length; at += slotSize)
        {
            ReadOnlySpan<byte> source = image.Slice(at, slotSize);
            if (!EntryValidator.TryParse(source, out ulong version, out EntryFlags flags, out int keyLength, out int valueLength)
                || keyLength > Options.MaxKeyLength || valueLength > Options.EffectiveMaxValueLength)
            {
                // A blank image (never written on the primary) is no news; anything else was torn by a write.
                if (version != 0 || source[EntryLayout.FlagsOffset] != 0)
                {
                    torn++;
                }

                continue;
            }

            Span<byte> slot = slab.Slice(at, slotSize);
            ReadOnlySpan<byte> key = source.Slice(EntryLayout.HeaderSize, keyLength);
            ulong localVersion = fresh ? 0 : EntryCodec.ReadVersion(slot);
            bool blank = localVersion == 0;
            if (!blank)
            {
                if (version <= localVersion)
                {
                    notNewer++;
                    continue;
                }

                IndexWaiting(slab, slabOffset, waiting[..waitingCount], hashes);
                waitingCount = 0;
                UnindexOverwritten(slot, slabOffset + (ulong)at, key, flags);
            }

            EntryCodec.CopyImage(slot, source[..EntryLayout.EntrySize(keyLength, valueLength)], blank);
            applied++;
            end = at + slotSize;
            newest = Math.Max(newest, version);
            if (flags == EntryFlags.Live)
            {
                ulong hash = KeyIndex.Hash(key);
                _index.Prefetch(hash);
                waiting[waitingCount] = at;
                hashes[waitingCount++] = hash;
                if (waitingCount == IndexWindow)
                {
                    IndexWaiting(slab, slabOffset, waiting, hashes);
                    waitingCount = 0;
                }
            }
        }

        IndexWaiting(slab, slabOffset, waiting[..waitingCount], hashes);
        if (end > 0)
        {
            _allocator.MarkWritten(slabOffset + (ulong)(end - slotSize));
        }

        _lastVersion = Math.Max(_lastVersion, newest);
        return new SlabCopyResult(ApplyStatus.Applied, applied, torn, notNewer);
    }

    private void IndexWaiting(Span<byte> slab, ulong slabOffset, ReadOnlySpan<int> waiting, ReadOnlySpan<ulong> hashes)
    {
        for (int i = 0; i < waiting.Length; i++)
        {
            ReadOnlySpan<byte> slot = slab[waiting[i]..];
            _index.SetUnlessNewer(EntryCodec.KeyOf(slot), hashes[i], slabOffset + (ulong)waiting[i], EntryCodec.ReadVersion(slot));
        }
    }

    /// <summary>
    /// Grows the key index once to hold <paramref name="entries"/> keys, before a bulk copy that will index
    /// about that many: growing step by step would rehash every key copied so far at each doubling.
    /// </summary>
    public void ReserveIndex(long entries)
    {
        using (Enter())
        {
            _index.Reserve((int)Math.Min(entries, int.MaxValue));
        }
    }
}
