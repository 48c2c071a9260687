using System.Net;

namespace MirrorKv.Protocol;

/// <summary>
/// HELLO payload (32 bytes): magic u32 "MKV1", version (major u8, minor u8: the highest the sender speaks),
/// peer kind u8, reserved u8 (0), max frame size u32 (the largest frame the sender accepts), advertised
/// endpoint (20 bytes: where a peer adapter itself listens, so the primary can tell clients where the
/// secondary is; "none" for clients). A peer adapter offering 1.1 adds its RESP endpoint (20 bytes, "none"
/// without a RESP port): 52 bytes.
/// </summary>
/// <param name="Kind">Client or peer adapter.</param>
/// <param name="MaxFrameSize">Largest frame the sender accepts.</param>
/// <param name="AdvertisedEndPoint">Where a peer adapter listens; null for clients.</param>
public readonly record struct HelloRequest(PeerKind Kind, uint MaxFrameSize, IPEndPoint? AdvertisedEndPoint = null)
{
    /// <summary>The highest protocol version the sender speaks; <see cref="ProtocolVersion.Current"/> unless set.</summary>
    public ProtocolVersion Version { get; init; } = ProtocolVersion.Current;

    /// <summary>Encoded size of a client's HELLO (and of a 1.0 peer's).</summary>
    public const int Size = 12 + WireEndPoint.Size;

    /// <summary>A 1.1 peer adapter's RESP endpoint (sentinel answers and ROLE name it to redis clients); null: none.</summary>
    public IPEndPoint? RespEndPoint { get; init; }

    /// <summary>Whether this HELLO carries the RESP endpoint: a peer adapter offering 1.1 or later.</summary>
    public bool HasRespEndPoint => Kind == PeerKind.Peer && Version.Major == ProtocolVersion.V1_1.Major && Version.Minor >= ProtocolVersion.V1_1.Minor;

    /// <summary>This HELLO's encoded size.</summary>
    public int EncodedSize => HasRespEndPoint ? Size + WireEndPoint.Size : Size;

    /// <summary>Encodes into <paramref name="destination"/>.</summary>
    public int Write(Span<byte> destination)
    {
        var w = new PayloadWriter(destination);
        w.U32(ProtocolLimits.Magic);
        w.U16(Version.Encoded);
        w.U8((byte)Kind);
        w.U8(0);
        w.U32(MaxFrameSize);
        WireEndPoint.Write(ref w, AdvertisedEndPoint);
        if (HasRespEndPoint)
        {
            WireEndPoint.Write(ref w, RespEndPoint);
        }

        return w.Written;
    }

    /// <summary>
    /// Decodes; <see cref="WireStatus.UnsupportedProtocol"/> for bad magic or a major version other than ours
    /// (any minor is accepted: the node answers the highest it speaks).
    /// </summary>
    public static WireStatus TryRead(ReadOnlySpan<byte> payload, out HelloRequest hello)
    {
        var r = new PayloadReader(payload);
        uint magic = r.U32();
        var version = ProtocolVersion.FromEncoded(r.U16());
        var kind = (PeerKind)r.U8();
        byte reserved = r.U8();
        uint maxFrame = r.U32();
        IPEndPoint? advertised = WireEndPoint.Read(ref r);
        hello = new HelloRequest(kind, maxFrame, advertised) { Version = version };
        if (hello.HasRespEndPoint && r.Remaining == WireEndPoint.Size)
        {
            hello = hello with { RespEndPoint = WireEndPoint.Read(ref r) };
        }

        if (magic != ProtocolLimits.Magic || ProtocolVersion.Negotiate(version) is null)
        {
            return WireStatus.UnsupportedProtocol;
        }

        return r.IsCompleteAndValid && reserved == 0 && kind is PeerKind.Client or PeerKind.Peer ? WireStatus.Ok : WireStatus.MalformedFrame;
    }
}
