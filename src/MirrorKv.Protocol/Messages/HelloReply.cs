using System.Net;

namespace MirrorKv.Protocol;

/// <summary>
/// HELLO reply payload: magic u32, version (major u8, minor u8: the one the node chose), role u8, region
/// count u8, epoch u64, incarnation u64, slab size u32, max frame size u32, peer endpoint (20 bytes), then
/// the regions (24 bytes each); to a peer adapter that sent its RESP endpoint, the node's own RESP endpoint
/// follows (20 bytes, "none" without a RESP port), and to one that offered 1.6 or later, after it, the node's limits
/// (max memory u64, largest value u32, eviction policy u8, replication mode u8, reserved u16: see <see cref="NodeLimits"/>).
/// Everything a client needs to read one-sided and to find the other node.
/// </summary>
public sealed record HelloReply
{
    /// <summary>Bytes before the region list.</summary>
    public const int FixedSize = 4 + 2 + 1 + 1 + 8 + 8 + 4 + 4 + WireEndPoint.Size;

    /// <summary>
    /// The protocol version the connection speaks: the highest both sides do (see
    /// <see cref="ProtocolVersion.Negotiate"/>); <see cref="ProtocolVersion.Current"/> unless set.
    /// </summary>
    public ProtocolVersion Version { get; init; } = ProtocolVersion.Current;

    /// <summary>The node's role.</summary>
    public required NodeRole Role { get; init; }

    /// <summary>The epoch the role belongs to.</summary>
    public required ulong Epoch { get; init; }

    /// <summary>Random per process start: tells a restarted node from the one a client knew.</summary>
    public required ulong Incarnation { get; init; }

    /// <summary>Slab size in bytes, the same on both nodes.</summary>
    public required uint SlabSize { get; init; }

    /// <summary>Largest frame the node accepts.</summary>
    public required uint MaxFrameSize { get; init; }

    /// <summary>The other node of the pair (the secondary for a primary, and the reverse), if known.</summary>
    public IPEndPoint? PeerEndPoint { get; init; }

    /// <summary>The node's registered regions.</summary>
    public required IReadOnlyList<RegionInfo> Regions { get; init; }

    /// <summary>Whether the reply ends with <see cref="RespEndPoint"/>: only to a peer whose HELLO carried its own.</summary>
    public bool HasRespEndPoint { get; init; }

    /// <summary>The node's RESP endpoint, told to its peer; null: none.</summary>
    public IPEndPoint? RespEndPoint { get; init; }

    /// <summary>Bytes of <see cref="Limits"/> on the wire.</summary>
    public const int LimitsSize = 8 + 4 + 4;

    /// <summary>
    /// The node's memory limit, largest value, eviction policy and replication mode (1.6, to a peer adapter, after
    /// <see cref="RespEndPoint"/>): a secondary with less could not hold what the primary acknowledges, and one with
    /// another policy or mode would keep it otherwise once promoted. Null: not sent.
    /// </summary>
    public NodeLimits? Limits { get; init; }

    /// <summary>Encoded size.</summary>
    public int Size => FixedSize + (Regions.Count * RegionInfo.Size) + (HasRespEndPoint ? WireEndPoint.Size : 0) + (Limits is null ? 0 : LimitsSize);

    /// <summary>Encodes into <paramref name="destination"/>.</summary>
    public int Write(Span<byte> destination)
    {
        if (Regions.Count > byte.MaxValue)
        {
            throw new InvalidOperationException("At most 255 regions fit a HELLO reply.");
        }

        var w = new PayloadWriter(destination);
        w.U32(ProtocolLimits.Magic);
        w.U16(Version.Encoded);
        w.U8((byte)Role);
        w.U8((byte)Regions.Count);
        w.U64(Epoch);
        w.U64(Incarnation);
        w.U32(SlabSize);
        w.U32(MaxFrameSize);
        WireEndPoint.Write(ref w, PeerEndPoint);
        foreach (RegionInfo region in Regions)
        {
            region.Write(ref w);
        }

        if (HasRespEndPoint || Limits is not null)
        {
            WireEndPoint.Write(ref w, RespEndPoint);
        }

        if (Limits is { } limits)
        {
            w.U64(limits.MaxMemory);
            w.U32(limits.MaxValueLength);
            w.U8(limits.Eviction);
            w.U8(limits.Replication);
            w.U16(0);
        }

        return w.Written;
    }

    /// <summary>Decodes; <see cref="WireStatus.UnsupportedProtocol"/> for bad magic or a major version other than ours.</summary>
    public static WireStatus TryRead(ReadOnlySpan<byte> payload, out HelloReply? reply)
    {
        reply = null;
        var r = new PayloadReader(payload);
        uint magic = r.U32();
        var version = ProtocolVersion.FromEncoded(r.U16());
        var role = (NodeRole)r.U8();
        int count = r.U8();
        ulong epoch = r.U64();
        ulong incarnation = r.U64();
        uint slabSize = r.U32();
        uint maxFrame = r.U32();
        IPEndPoint? peer = WireEndPoint.Read(ref r);
        var regions = new RegionInfo[count];
        for (int i = 0; i < count; i++)
        {
            regions[i] = RegionInfo.Read(ref r);
        }

        bool hasLimits = r.Remaining == WireEndPoint.Size + LimitsSize;
        bool hasResp = hasLimits || r.Remaining == WireEndPoint.Size;
        IPEndPoint? resp = hasResp ? WireEndPoint.Read(ref r) : null;
        NodeLimits? limits = null;
        if (hasLimits)
        {
            limits = new NodeLimits(r.U64(), r.U32(), r.U8(), r.U8());
            r.U16();
        }

        if (!r.IsCompleteAndValid)
        {
            return WireStatus.MalformedFrame;
        }

        if (magic != ProtocolLimits.Magic || version.Major != ProtocolVersion.Current.Major)
        {
            return WireStatus.UnsupportedProtocol;
        }

        reply = new HelloReply
        {
            Version = version,
            Role = role,
            Epoch = epoch,
            Incarnation = incarnation,
            SlabSize = slabSize,
            MaxFrameSize = maxFrame,
            PeerEndPoint = peer,
            Regions = regions,
            HasRespEndPoint = hasResp,
            RespEndPoint = resp,
            Limits = limits,
        };
        return WireStatus.Ok;
    }
}
