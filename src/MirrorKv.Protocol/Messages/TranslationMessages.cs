using MirrorKv.Memory;

namespace MirrorKv.Protocol;

/// <summary>
/// TRANSLATION request payload (8 bytes): primary rkey u32, reserved u32 (0).
/// Reply payload: local rkey u32, slab size u32, count u32, reserved u32, then count pairs of
/// (primary slab base u64, local slab base u64), ascending by primary base.
/// </summary>
public static class TranslationMessages
{
    /// <summary>Request size.</summary>
    public const int RequestSize = 8;

    /// <summary>Reply bytes before the pairs.</summary>
    public const int ReplyFixedSize = 16;

    /// <summary>Bytes per slab pair.</summary>
    public const int PairSize = 16;

    /// <summary>Encodes a request.</summary>
    public static int WriteRequest(Span<byte> destination, uint primaryRKey)
    {
        var w = new PayloadWriter(destination);
        w.U32(primaryRKey);
        w.U32(0);
        return w.Written;
    }

    /// <summary>Decodes a request.</summary>
    public static WireStatus TryReadRequest(ReadOnlySpan<byte> payload, out uint primaryRKey)
    {
        var r = new PayloadReader(payload);
        primaryRKey = r.U32();
        uint reserved = r.U32();
        return r.IsCompleteAndValid && reserved == 0 ? WireStatus.Ok : WireStatus.MalformedFrame;
    }

    /// <summary>Reply size for <paramref name="count"/> pairs.</summary>
    public static int ReplySize(int count) => ReplyFixedSize + (count * PairSize);

    /// <summary>Encodes a reply.</summary>
    public static int WriteReply(Span<byte> destination, uint localRKey, uint slabSize, IReadOnlyList<SlabMapping> mappings)
    {
        ArgumentNullException.ThrowIfNull(mappings);
        var w = new PayloadWriter(destination);
        w.U32(localRKey);
        w.U32(slabSize);
        w.U32((uint)mappings.Count);
        w.U32(0);
        foreach (SlabMapping m in mappings)
        {
            w.U64(m.PrimarySlabBase);
            w.U64(m.LocalSlabBase);
        }

        return w.Written;
    }

    /// <summary>Decodes a reply.</summary>
    public static WireStatus TryReadReply(ReadOnlySpan<byte> payload, out uint localRKey, out uint slabSize, out SlabMapping[] mappings)
    {
        var r = new PayloadReader(payload);
        localRKey = r.U32();
        slabSize = r.U32();
        uint count = r.U32();
        uint reserved = r.U32();
        mappings = [];
        if (r.Failed || reserved != 0 || count > (uint)(r.Remaining / PairSize) || r.Remaining != count * PairSize)
        {
            return WireStatus.MalformedFrame;
        }

        mappings = new SlabMapping[count];
        for (int i = 0; i < mappings.Length; i++)
        {
            mappings[i] = new SlabMapping(r.U64(), r.U64());
        }

        return r.IsCompleteAndValid ? WireStatus.Ok : WireStatus.MalformedFrame;
    }
}
