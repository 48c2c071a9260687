using System.Net;

namespace MirrorKv.Protocol;

/// <summary>
/// STATUS reply payload (60 bytes): role u8, protected u8 (0 or 1), reserved u16 (0), lease u32 (a primary's
/// lease time left in milliseconds, 0xFFFFFFFF when unlimited because no secondary could replace it; 0 on
/// other roles and when run out), epoch u64,
/// LSN u64 (a primary's last written, a secondary's last applied), acked LSN u64 (what the secondary has
/// confirmed; a secondary reports its own LSN), entries u64, peer endpoint (20 bytes). The request's
/// payload is 8 reserved bytes.
/// </summary>
/// <param name="Role">The node's role.</param>
/// <param name="Protected">Whether the pair holds every write on both nodes.</param>
/// <param name="Epoch">The role's epoch.</param>
/// <param name="Lsn">Last written (primary) or applied (secondary).</param>
/// <param name="AckedLsn">Last confirmed by the secondary.</param>
/// <param name="Entries">Live keys in the node's store.</param>
/// <param name="Peer">The other node, when known.</param>
public sealed record NodeStatus(NodeRole Role, bool Protected, ulong Epoch, ulong Lsn, ulong AckedLsn, ulong Entries, IPEndPoint? Peer)
{
    /// <summary>Request size.</summary>
    public const int RequestSize = 8;

    /// <summary>Reply size.</summary>
    public const int Size = 40 + WireEndPoint.Size;

    /// <summary>Encoded lease value meaning "unlimited".</summary>
    public const uint UnlimitedLease = uint.MaxValue;

    /// <summary>A primary's lease time left: zero when run out or not a primary, <see cref="TimeSpan.MaxValue"/> when unlimited.</summary>
    public TimeSpan LeaseRemaining { get; init; }

    /// <summary>Records the secondary has not confirmed yet (a primary's replication lag).</summary>
    public ulong Lag => Lsn > AckedLsn ? Lsn - AckedLsn : 0;

    /// <summary>Checks a request's payload: exactly <see cref="RequestSize"/> bytes, all reserved, all 0.</summary>
    public static WireStatus TryReadRequest(ReadOnlySpan<byte> payload) =>
        payload.Length == RequestSize && payload.IndexOfAnyExcept((byte)0) < 0 ? WireStatus.Ok : WireStatus.MalformedFrame;

    /// <summary>Encodes into <paramref name="destination"/>.</summary>
    public int Write(Span<byte> destination)
    {
        var w = new PayloadWriter(destination);
        w.U8((byte)Role);
        w.U8(Protected ? (byte)1 : (byte)0);
        w.U16(0);
        w.U32(LeaseRemaining == TimeSpan.MaxValue ? UnlimitedLease : (uint)Math.Min(LeaseRemaining.TotalMilliseconds, UnlimitedLease - 1));
        w.U64(Epoch);
        w.U64(Lsn);
        w.U64(AckedLsn);
        w.U64(Entries);
        WireEndPoint.Write(ref w, Peer);
        return w.Written;
    }

    /// <summary>Decodes.</summary>
    public static WireStatus TryRead(ReadOnlySpan<byte> payload, out NodeStatus? status)
    {
        var r = new PayloadReader(payload);
        var role = (NodeRole)r.U8();
        byte protectedFlag = r.U8();
        ushort reserved1 = r.U16();
        uint leaseMs = r.U32();
        ulong epoch = r.U64();
        ulong lsn = r.U64();
        ulong acked = r.U64();
        ulong entries = r.U64();
        IPEndPoint? peer = WireEndPoint.Read(ref r);
        bool ok = r.IsCompleteAndValid && protectedFlag <= 1 && reserved1 == 0;
        status = ok ? new NodeStatus(role, protectedFlag == 1, epoch, lsn, acked, entries, peer)
        {
            LeaseRemaining = leaseMs == UnlimitedLease ? TimeSpan.MaxValue : TimeSpan.FromMilliseconds(leaseMs),
        } : null;
        return ok ? WireStatus.Ok : WireStatus.MalformedFrame;
    }
}
