using MirrorKv.Entries;
using MirrorKv.Memory;

namespace MirrorKv.Store;

/// <summary>
/// Large entries on a secondary: a primary span (slabs in a row of one primary chunk) is mirrored by local slabs in a
/// row of the chunk that mirrors that primary chunk, in the same order, so that every slab of the span has the same
/// delta and the first slab's translation serves the whole entry (TranslationSnapshot checks it for every range
/// that crosses a slab).
/// </summary>
/// <remarks>
/// <para>The mirror chunk always has room: it is as long as the primary chunk, and holds a slab for each primary slab
/// of that chunk that a record reached and no release took back, so at least as many slabs are unclaimed as the
/// primary had for the span. They need not be in a row, since the secondary claims slabs in the order records arrive
/// (small classes from the top down, spans from the bottom up). When no run is long enough, the secondary compacts the
/// chunk: it slides every claimed slab towards the top, in order (a span stays in a row), which leaves one run of
/// every unclaimed slab at the bottom. Each moved slab is copied, remapped in the translation, its keys re-pointed in
/// the index, and its old place scrubbed. A one-sided or FAILOVER_READ reader racing the move finds the old place
/// whole, or zeroed (deleted: it looks the key up), or torn; never a foreign entry. Compaction is rare (mixed small
/// and large writes with deletes fragmenting a mirror chunk) and costs at most one chunk's copy under the lock.</para>
/// </remarks>
public sealed partial class StoreEngine
{
    private long _mirrorCompactions;

    /// <summary>On a secondary: how often a mirror chunk was compacted to mirror a large entry's span in a row.</summary>
    public long MirrorCompactions => Interlocked.Read(ref _mirrorCompactions);

    // A slot size of a large entry: more than a slab, a multiple of the granularity, no larger than a chunk can be.
    private bool IsSpanSlotSize(long slotSize) =>
        slotSize > Options.SlabSize && slotSize % SizeClassTable.Granularity == 0 && (ulong)slotSize <= StoreOptions.MaxChunkLimit;

    // Under the lock: claims local slabs in a row for the primary span at spanInPrimary (the pointer to its slot) and
    // maps each of its primary slabs. False when the span does not start a slab, leaves its region, overlaps a mapped
    // primary slab, or the mirror chunk has no room even compacted.
    private bool TryMirrorSpanLocked(in RemotePointer spanInPrimary)
    {
        MirroredRegion? region = FindMirrored(spanInPrimary.RKey);
        ulong slabSize = (ulong)Options.SlabSize;
        int slabs = SizeClasses.SpanSlabs(spanInPrimary.Length);
        if (region is null || PrimarySlabBase(spanInPrimary) != spanInPrimary.Address
            || spanInPrimary.Address - region.Base + ((ulong)slabs * slabSize) > region.Length)
        {
            return false;
        }

        TranslationSnapshot translation = _translation!.Current;
        for (int i = 0; i < slabs; i++)
        {
            var slab = new RemotePointer(spanInPrimary.RKey, spanInPrimary.Address + ((ulong)i * slabSize), 1);
            if (translation.TryTranslate(slab, out _) != TranslationStatus.UnknownSlab)
            {
                return false;
            }
        }

        int first = _memory.FirstSlabOf(region.LocalChunk), count = _memory.SlabsOf(region.LocalChunk);
        bool smallFromTop = Options.SlabOrder == SlabOrder.Descending;
        int head = _allocator.FindUnclaimedRun(first, count, slabs, fromTop: !smallFromTop);
        if (head < 0)
        {
            CompactMirrorChunkLocked(region, towardTop: smallFromTop);
            head = _allocator.FindUnclaimedRun(first, count, slabs, fromTop: !smallFromTop);
            if (head < 0)
            {
                return false;
            }
        }

        _allocator.ClaimSpan(head, (int)spanInPrimary.Length, inUse: false);
        for (int i = 0; i < slabs; i++)
        {
            _translation.MapSlab(spanInPrimary.RKey, spanInPrimary.Address + ((ulong)i * slabSize), _memory.AddressOf((ulong)(head + i) * slabSize));
        }

        return true;
    }

    // Under the lock: slides every claimed slab of the mirror chunk to one end, in order, so the unclaimed ones form
    // one run at the other.
    private void CompactMirrorChunkLocked(MirroredRegion region, bool towardTop)
    {
        int first = _memory.FirstSlabOf(region.LocalChunk), count = _memory.SlabsOf(region.LocalChunk);
        ulong slabSize = (ulong)Options.SlabSize;
        var primaryOf = new Dictionary<ulong, ulong>();
        foreach (SlabMapping mapping in _translation!.Current.GetMappings(region.RKey))
        {
            primaryOf[mapping.LocalSlabBase] = mapping.PrimarySlabBase;
        }

        int target = towardTop ? first + count - 1 : first;
        for (int i = 0; i < count; i++)
        {
            int slab = towardTop ? first + count - 1 - i : first + i;
            if (!_allocator.IsClaimed(slab))
            {
                continue;
            }

            if (slab != target)
            {
                MoveMirroredSlabLocked(region.RKey, primaryOf[_memory.AddressOf((ulong)slab * slabSize)], slab, target);
            }

            target += towardTop ? -1 : 1;
        }

        Interlocked.Increment(ref _mirrorCompactions);
    }

    // Under the lock: copies local slab `from` to the unclaimed slab `to`, points the translation of its primary slab
    // and the index's keys there, and scrubs `from`. Slots keep their offsets inside the slab.
    private void MoveMirroredSlabLocked(uint primaryRKey, ulong primarySlabBase, int from, int to)
    {
        ulong slabSize = (ulong)Options.SlabSize;
        ulong fromOffset = (ulong)from * slabSize, toOffset = (ulong)to * slabSize;
        Span<byte> source = _memory.GetSpan(fromOffset, Options.SlabSize);
        source.CopyTo(_memory.GetSpan(toOffset, Options.SlabSize));
        _translation!.UnmapSlab(primaryRKey, primarySlabBase);
        _translation.MapSlab(primaryRKey, primarySlabBase, _memory.AddressOf(toOffset));

        // A span's entry lives in its first slab (its other slabs hold no slot); a class's slab holds slots up to its
        // high water.
        int slotSize = _allocator.SlotSizeAt(fromOffset);
        if (_allocator.IsSpanHead(from))
        {
            RepointLocked(fromOffset, toOffset, slotSize);
        }
        else if (!_allocator.IsSpan(from))
        {
            for (int at = 0; at + slotSize <= _allocator.HighWater(from); at += slotSize)
            {
                RepointLocked(fromOffset + (ulong)at, toOffset + (ulong)at, slotSize);
            }
        }

        _allocator.MoveSecondarySlab(from, to);
        source.Clear();
    }

    // The key of the live entry at `from`, if the index holds it there, now lives at `to`.
    private void RepointLocked(ulong from, ulong to, int slotSize)
    {
        if (!IsLive(from))
        {
            return;
        }

        ReadOnlySpan<byte> key = EntryCodec.KeyOf(_memory.GetSpan(from, slotSize));
        ulong hash = KeyIndex.Hash(key);
        if (_index.TryGet(key, hash, out ulong indexed) && indexed == from)
        {
            _index.Set(key, hash, to);
            Access?.Carry(from, to);
        }
    }

    // Under the lock, for a slab release record that names a slab of a mirrored span: the span's entry was tombstoned
    // by an earlier record, so no key may be indexed there; the span is scrubbed, unmapped and pooled.
    private ApplyStatus ReleaseMirroredSpanLocked(uint primaryRKey, int headSlab)
    {
        ulong slabSize = (ulong)Options.SlabSize;
        ulong offset = (ulong)headSlab * slabSize;
        int slotSize = _allocator.SlotSizeAt(offset);
        if (IsIndexedSlot(offset, slotSize))
        {
            return ApplyStatus.SlotMismatch;
        }

        var primaryOf = new Dictionary<ulong, ulong>();
        foreach (SlabMapping mapping in _translation!.Current.GetMappings(primaryRKey))
        {
            primaryOf[mapping.LocalSlabBase] = mapping.PrimarySlabBase;
        }

        int slabs = _allocator.SpanSlabsAt(headSlab);
        for (int i = 0; i < slabs; i++)
        {
            if (primaryOf.TryGetValue(_memory.AddressOf(offset + ((ulong)i * slabSize)), out ulong primarySlab))
            {
                _releasedPrimarySlabs.Add((primaryRKey, primarySlab));
                _translation.UnmapSlab(primaryRKey, primarySlab);
            }
        }

        _memory.GetSpan(offset, checked(slabs * Options.SlabSize)).Clear();
        _allocator.ReleaseSpan(headSlab);
        return ApplyStatus.Applied;
    }

    // Under the lock, as a secondary is promoted: a span whose entry the index does not hold (a tombstone whose slab
    // records never came, or an image a newer one of its key superseded) goes back to the pool, scrubbed, so that
    // the pool holds only zeroed slabs and the allocator's rebuild keeps only spans in use.
    private void ReleaseUnindexedSpansLocked()
    {
        ulong slabSize = (ulong)Options.SlabSize;
        for (int slab = 0; slab < _allocator.SlabCount; slab++)
        {
            if (!_allocator.IsSpanHead(slab))
            {
                continue;
            }

            ulong offset = (ulong)slab * slabSize;
            int slotSize = _allocator.SlotSizeAt(offset);
            if (!IsIndexedSlot(offset, slotSize))
            {
                int slabs = _allocator.SpanSlabsAt(slab);
                _memory.GetSpan(offset, checked(slabs * Options.SlabSize)).Clear();
                _allocator.ReleaseSpan(slab);
            }
        }
    }
}
