namespace MirrorKv.Protocol;

/// <summary>
/// SLABS request payload (8 bytes, reserved, 0). Reply payload: slab size u32, count u32, then count
/// entries of (slab base address u64, slot size u32, reserved u32), ascending by address.
/// </summary>
public static class SlabsMessages
{
    /// <summary>Request size.</summary>
    public const int RequestSize = 8;

    /// <summary>Reply bytes before the entries.</summary>
    public const int ReplyFixedSize = 8;

    /// <summary>Bytes per slab entry.</summary>
    public const int EntrySize = 16;

    /// <summary>Checks a request's payload: exactly <see cref="RequestSize"/> bytes, all reserved, all 0.</summary>
    public static WireStatus TryReadRequest(ReadOnlySpan<byte> payload) =>
        payload.Length == RequestSize && payload.IndexOfAnyExcept((byte)0) < 0 ? WireStatus.Ok : WireStatus.MalformedFrame;

    /// <summary>Reply size for <paramref name="count"/> slabs.</summary>
    public static int ReplySize(int count) => ReplyFixedSize + (count * EntrySize);

    /// <summary>Encodes a reply.</summary>
    public static int WriteReply(Span<byte> destination, uint slabSize, IReadOnlyList<(ulong SlabBase, uint SlotSize)> slabs)
    {
        ArgumentNullException.ThrowIfNull(slabs);
        var w = new PayloadWriter(destination);
        w.U32(slabSize);
        w.U32((uint)slabs.Count);
        foreach ((ulong slabBase, uint slotSize) in slabs)
        {
            w.U64(slabBase);
            w.U32(slotSize);
            w.U32(0);
        }

        return w.Written;
    }

    /// <summary>Decodes a reply.</summary>
    public static WireStatus TryReadReply(ReadOnlySpan<byte> payload, out uint slabSize, out (ulong SlabBase, uint SlotSize)[] slabs)
    {
        var r = new PayloadReader(payload);
        slabSize = r.U32();
        uint count = r.U32();
        slabs = [];
        if (r.Failed || r.Remaining != (long)count * EntrySize)
        {
            return WireStatus.MalformedFrame;
        }

        slabs = new (ulong, uint)[count];
        for (int i = 0; i < slabs.Length; i++)
        {
            ulong slabBase = r.U64();
            uint slotSize = r.U32();
            if (r.U32() != 0)
            {
                return WireStatus.MalformedFrame;
            }

            slabs[i] = (slabBase, slotSize);
        }

        return r.IsCompleteAndValid ? WireStatus.Ok : WireStatus.MalformedFrame;
    }
}
