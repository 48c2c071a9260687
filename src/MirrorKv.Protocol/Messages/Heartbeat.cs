namespace MirrorKv.Protocol;

/// <summary>
/// HEARTBEAT payload (32 bytes): epoch u64, role u8, flags u8 (bit 0: protected; bit 1: dropped; bit 2: handover; other bits 0), reserved
/// u8 × 6 (0), LSN u64 (the primary's last written, the secondary's last applied), lease stamp u64. Any frame on the peer link proves the sender
/// alive; heartbeats keep the link talking when there are no writes, and carry the primary's lease.
/// </summary>
/// <remarks>
/// The lease stamp is opaque to the receiver: a primary sends a reading of its own monotonic clock, and a
/// secondary sends back the last stamp it received (0 before any). The echo proves to the primary that the
/// secondary heard it at or after that reading, so the secondary cannot promote before the reading plus its
/// promotion timeout: the primary's lease runs from the reading, never from when the echo arrived.
/// A promoting secondary's last heartbeat announces the new epoch with role primary. The protected flag,
/// set by a primary only, says that it counts this secondary as caught up: from then on it will never go on
/// alone after the secondary falls silent, so the secondary may promote; before it, the secondary may not.
/// The dropped flag, from a primary only, comes last before it closes the link to a secondary it gives up on
/// (silent, or not acknowledging) and goes on alone: that secondary must rejoin, never take over.
/// The handover flag, from a primary only (a switchover), says that it has stopped serving for good and that
/// the secondary, which has confirmed every write up to the heartbeat's LSN, should take over at once.
/// </remarks>
/// <param name="Epoch">The sender's epoch.</param>
/// <param name="Role">The sender's role.</param>
/// <param name="Lsn">The sender's LSN.</param>
/// <param name="LeaseStamp">The primary's clock reading, or the secondary's echo of the last one it received.</param>
/// <param name="Protected">From a primary: it counts the secondary as caught up.</param>
/// <param name="Dropped">From a primary: it gives up on this secondary and goes on alone.</param>
/// <param name="Handover">From a primary: it stopped serving for good; the secondary takes over now.</param>
public readonly record struct Heartbeat(ulong Epoch, NodeRole Role, ulong Lsn, ulong LeaseStamp, bool Protected = false, bool Dropped = false, bool Handover = false)
{
    /// <summary>Encoded size.</summary>
    public const int Size = 32;

    /// <summary>Encodes into <paramref name="destination"/>.</summary>
    public int Write(Span<byte> destination)
    {
        var w = new PayloadWriter(destination);
        w.U64(Epoch);
        w.U8((byte)Role);
        w.U8((byte)((Protected ? 1 : 0) | (Dropped ? 2 : 0) | (Handover ? 4 : 0)));
        for (int i = 0; i < 6; i++)
        {
            w.U8(0);
        }

        w.U64(Lsn);
        w.U64(LeaseStamp);
        return w.Written;
    }

    /// <summary>Decodes.</summary>
    public static WireStatus TryRead(ReadOnlySpan<byte> payload, out Heartbeat heartbeat)
    {
        var r = new PayloadReader(payload);
        ulong epoch = r.U64();
        var role = (NodeRole)r.U8();
        byte flags = r.U8();
        bool reservedZero = r.Bytes(6).IndexOfAnyExcept((byte)0) < 0 && flags <= 7;
        ulong lsn = r.U64();
        heartbeat = new Heartbeat(epoch, role, lsn, r.U64(), (flags & 1) != 0, (flags & 2) != 0, (flags & 4) != 0);
        return r.IsCompleteAndValid && reservedZero ? WireStatus.Ok : WireStatus.MalformedFrame;
    }
}
