namespace MirrorKv.Protocol;

/// <summary>
/// SWITCHOVER request payload (8 bytes): timeout in ms u32 (how long the primary waits for its secondary to
/// confirm every write; 0 means the node's default), reserved u32 (0). Reply payload (16 bytes): the epoch
/// handed over from u64, and the last LSN u64, which the secondary holds when the reply leaves.
/// </summary>
public static class SwitchoverMessages
{
    /// <summary>Request size.</summary>
    public const int RequestSize = 8;

    /// <summary>Reply size.</summary>
    public const int ReplySize = 16;

    /// <summary>Encodes a request.</summary>
    public static int WriteRequest(Span<byte> destination, TimeSpan timeout)
    {
        var w = new PayloadWriter(destination);
        w.U32((uint)Math.Clamp(timeout.TotalMilliseconds, 0, uint.MaxValue));
        w.U32(0);
        return w.Written;
    }

    /// <summary>Decodes a request: exactly <see cref="RequestSize"/> bytes, the reserved field 0.</summary>
    public static WireStatus TryReadRequest(ReadOnlySpan<byte> payload, out TimeSpan timeout)
    {
        var r = new PayloadReader(payload);
        timeout = TimeSpan.FromMilliseconds(r.U32());
        return r.U32() == 0 && r.IsCompleteAndValid ? WireStatus.Ok : WireStatus.MalformedFrame;
    }

    /// <summary>Encodes a reply.</summary>
    public static int WriteReply(Span<byte> destination, ulong epoch, ulong lsn)
    {
        var w = new PayloadWriter(destination);
        w.U64(epoch);
        w.U64(lsn);
        return w.Written;
    }

    /// <summary>Decodes a reply.</summary>
    public static WireStatus TryReadReply(ReadOnlySpan<byte> payload, out ulong epoch, out ulong lsn)
    {
        var r = new PayloadReader(payload);
        epoch = r.U64();
        lsn = r.U64();
        return r.IsCompleteAndValid ? WireStatus.Ok : WireStatus.MalformedFrame;
    }
}
