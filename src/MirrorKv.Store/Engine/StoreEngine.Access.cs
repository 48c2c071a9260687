using System.Buffers.Binary;
using MirrorKv.Entries;

namespace MirrorKv.Store;

/// <summary>
/// Access by key for a front end that serves values itself (RESP): a value read where it lives, a
/// read-modify-write under one hold of the lock, and a scan of the live entries in address order.
/// </summary>
public sealed partial class StoreEngine
{
    /// <summary>Shows the value of <paramref name="key"/> to <paramref name="visitor"/> under the lock; false when the key is absent.</summary>
    public bool TryVisit<TVisitor>(ReadOnlySpan<byte> key, ref TVisitor visitor)
        where TVisitor : IValueVisitor, allows ref struct => TryVisit(key, ref visitor, out _);

    /// <summary>
    /// As <see cref="TryVisit{TVisitor}(ReadOnlySpan{byte}, ref TVisitor)"/>; <paramref name="pending"/> when the value
    /// shown, or the key's absence (a delete whose tombstone waits for its ack), is not published yet: a front end
    /// that answers with it must hold the answer until the secondary's ack covers the last LSN, as it holds a write's.
    /// </summary>
    public bool TryVisit<TVisitor>(ReadOnlySpan<byte> key, ref TVisitor visitor, out bool pending)
        where TVisitor : IValueVisitor, allows ref struct
    {
        pending = false;
        if (CheckKey(key) != StoreStatus.Ok)
        {
            return false;
        }

        ulong hash = KeyIndex.Hash(key);
        using (Enter())
        {
            if (!_index.TryGet(key, hash, out ulong offset))
            {
                // A key deleted pending reads as absent already: its pending tombstone holds the answer too.
                pending = DeletePendingLocked(hash);
                return false;
            }

            Access?.Mark(offset);
            pending = (EntryCodec.ReadVersion(_memory.GetSpan(offset, EntryLayout.HeaderSize)) & 1) != 0;
            visitor.Visit(ValueAt(offset, key.Length));
            return true;
        }
    }

    /// <summary>
    /// A two-sided read: shows the value of <paramref name="key"/> to <paramref name="visitor"/> and finds its pointer
    /// and version, under one hold of the lock. <paramref name="pending"/> as for
    /// <see cref="TryLookup(ReadOnlySpan{byte}, out MirrorKv.Memory.RemotePointer, out ulong, out bool)"/>: the value
    /// shown, or the key's absence, is not published yet, and an answer with it must wait for the ack.
    /// </summary>
    public bool TryGet<TVisitor>(ReadOnlySpan<byte> key, ref TVisitor visitor, out MirrorKv.Memory.RemotePointer pointer, out ulong version, out bool pending)
        where TVisitor : IValueVisitor, allows ref struct
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
            if (!TryLookupLocked(key, out ulong offset, out pointer, out version, out pending))
            {
                return false;
            }

            visitor.Visit(ValueAt(offset, key.Length));
            return true;
        }
    }

    /// <summary>
    /// Reads <paramref name="key"/>, lets <paramref name="mutation"/> decide and carries the decision out, all
    /// under one hold of the lock. Writes and deletes are replicated as any other. A kept key gives an Ok
    /// result of kind <see cref="WriteKind.None"/>; deleting an absent key gives NotFound.
    /// </summary>
    public StoreWriteResult Mutate<TMutation>(ReadOnlySpan<byte> key, ref TMutation mutation)
        where TMutation : IValueMutation, allows ref struct
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

            bool exists = _index.TryGet(key, hash, out ulong offset);
            MutationDecision decision = mutation.Decide(exists, exists ? ValueAt(offset, key.Length) : default);
            switch (decision)
            {
                case MutationDecision.Write:
                    ReadOnlySpan<byte> value = mutation.NewValue;
                    return value.Length > Options.EffectiveMaxValueLength ? StoreWriteResult.Failed(StoreStatus.ValueTooLarge) : PutLocked(key, hash, value, mustExist: false, at: default);
                case MutationDecision.Delete when exists:
                    _index.Remove(key, hash, out _);
                    return DeleteLocked(offset, key);
                case MutationDecision.Delete:
                    return StoreWriteResult.Failed(StoreStatus.NotFound);
                default:
                    return new StoreWriteResult(StoreStatus.Ok, WriteKind.None, default, 0, default);
            }
        }
    }

    /// <summary>
    /// Shows live entries to <paramref name="visitor"/> in address order, from <paramref name="cursor"/> (0: the
    /// region's start; any other value is rounded up to the next slot), examining at most
    /// <paramref name="slotBudget"/> slots under one hold of the lock. Returns where the next call goes on,
    /// or 0 once the end of the region was reached.
    /// </summary>
    /// <remarks>
    /// A key that stays in its slot for the whole scan is shown exactly once. A key rewritten meanwhile into
    /// a slot of another size moves: it may then be shown twice, or not at all.
    /// </remarks>
    public ulong Scan<TVisitor>(ulong cursor, int slotBudget, ref TVisitor visitor)
        where TVisitor : IEntryVisitor, allows ref struct
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(slotBudget);
        ulong slabSize = (ulong)Options.SlabSize;
        using (Enter())
        {
            ulong end = (ulong)_allocator.SlabCount * slabSize;
            for (int examined = 0; examined < slotBudget && cursor < end; examined++)
            {
                int slab = _allocator.SlabOf(cursor);
                ulong slabStart = (ulong)slab * slabSize;
                ulong slabEnd = slabStart + slabSize;
                int slotSize = _allocator.SlotSizeAt(cursor);
                if (slotSize == 0)
                {
                    cursor = slabEnd;
                    continue;
                }

                // A cursor from outside may point into a slot: start at the next slot boundary of its slab.
                ulong offset = slabStart + ((cursor - slabStart + (ulong)slotSize - 1) / (ulong)slotSize * (ulong)slotSize);
                // A large entry's slot starts at its span's first slab and reaches past it.
                bool span = slotSize > Options.SlabSize;
                if (span ? offset != slabStart : offset + (ulong)slotSize > slabEnd || offset - slabStart >= (ulong)_allocator.HighWater(slab))
                {
                    // The slab's tail: too short for a slot, or never handed out.
                    cursor = slabEnd;
                    continue;
                }

                cursor = offset + (ulong)slotSize;
                ReadOnlySpan<byte> slot = _memory.GetSpan(offset, slotSize);
                if (!EntryValidator.TryParseOwned(slot, out _, out _, out EntryFlags flags, out int keyLength, out int valueLength) || flags != EntryFlags.Live)
                {
                    continue;
                }

                // A secondary may hold a live image the index no longer points at (a newer one of the key exists).
                ReadOnlySpan<byte> key = slot.Slice(EntryLayout.HeaderSize, keyLength);
                if (!_index.TryGet(key, KeyIndex.Hash(key), out ulong indexed) || indexed != offset)
                {
                    continue;
                }

                if (!visitor.Visit(key, slot.Slice(EntryLayout.HeaderSize + keyLength, valueLength)))
                {
                    break;
                }
            }

            return cursor >= end ? 0 : cursor;
        }
    }

    // Under the lock, for an indexed slot: its value, straight from the header's lengths (the lock keeps the
    // entry whole; only one-sided readers need the seqlock and checksum).
    private ReadOnlySpan<byte> ValueAt(ulong offset, int keyLength)
    {
        Span<byte> header = _memory.GetSpan(offset, EntryLayout.HeaderSize);
        int valueLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(header[EntryLayout.ValueLengthOffset..]);
        return _memory.GetSpan(offset + (ulong)EntryLayout.HeaderSize + (ulong)keyLength, valueLength);
    }
}
