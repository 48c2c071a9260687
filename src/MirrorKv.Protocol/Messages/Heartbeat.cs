namespace MirrorKv.Protocol;

/// <summary>
/// HEARTBEAT payload (24 bytes): epoch u64, role u8, reserved u8 × 7 (0), LSN u64 (the primary's last
/// written, the secondary's last applied). Any frame on the peer link proves the sender alive; heartbeats
/// keep the link talking when there are no writes.
/// </summary>
/// <param name="Epoch">The sender's epoch.</param>
/// <param name="Role">The sender's role.</param>
/// <param name="Lsn">The sender's LSN.</param>
public readonly record struct Heartbeat(ulong Epoch, NodeRole Role, ulong Lsn)
{
    /// <summary>Encoded size.</summary>
    public const int Size = 24;

    /// <summary>Encodes into <paramref name="destination"/>.</summary>
    public int Write(Span<byte> destination)
    {
        var w = new PayloadWriter(destination);
        w.U64(Epoch);
        w.U8((byte)Role);
        for (int i = 0; i < 7; i++)
        {
            w.U8(0);
        }

        w.U64(Lsn);
        return w.Written;
    }

    /// <summary>Decodes.</summary>
    public static WireStatus TryRead(ReadOnlySpan<byte> payload, out Heartbeat heartbeat)
    {
        var r = new PayloadReader(payload);
        ulong epoch = r.U64();
        var role = (NodeRole)r.U8();
        bool reservedZero = r.Bytes(7).IndexOfAnyExcept((byte)0) < 0;
        heartbeat = new Heartbeat(epoch, role, r.U64());
        return r.IsCompleteAndValid && reservedZero ? WireStatus.Ok : WireStatus.MalformedFrame;
    }
}
