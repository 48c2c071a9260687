using System.Net;

namespace MirrorKv.Protocol;

/// <summary>
/// HELLO payload (32 bytes): magic u32 "MKV1", version u16, peer kind u8, reserved u8 (0), max frame size
/// u32 (the largest frame the sender accepts), advertised endpoint (20 bytes: where a peer adapter itself
/// listens, so the primary can tell clients where the secondary is; "none" for clients).
/// </summary>
/// <param name="Kind">Client or peer adapter.</param>
/// <param name="MaxFrameSize">Largest frame the sender accepts.</param>
/// <param name="AdvertisedEndpoint">Where a peer adapter listens; null for clients.</param>
public readonly record struct HelloRequest(PeerKind Kind, uint MaxFrameSize, IPEndPoint? AdvertisedEndpoint = null)
{
    /// <summary>Encoded size.</summary>
    public const int Size = 12 + WireEndpoint.Size;

    /// <summary>Encodes into <paramref name="destination"/>.</summary>
    public int Write(Span<byte> destination)
    {
        var w = new PayloadWriter(destination);
        w.U32(ProtocolLimits.Magic);
        w.U16(ProtocolLimits.Version);
        w.U8((byte)Kind);
        w.U8(0);
        w.U32(MaxFrameSize);
        WireEndpoint.Write(ref w, AdvertisedEndpoint);
        return w.Written;
    }

    /// <summary>Decodes; <see cref="WireStatus.UnsupportedProtocol"/> for bad magic or version.</summary>
    public static WireStatus TryRead(ReadOnlySpan<byte> payload, out HelloRequest hello)
    {
        var r = new PayloadReader(payload);
        uint magic = r.U32();
        ushort version = r.U16();
        var kind = (PeerKind)r.U8();
        byte reserved = r.U8();
        uint maxFrame = r.U32();
        IPEndPoint? advertised = WireEndpoint.Read(ref r);
        hello = new HelloRequest(kind, maxFrame, advertised);
        if (magic != ProtocolLimits.Magic || version != ProtocolLimits.Version)
        {
            return WireStatus.UnsupportedProtocol;
        }

        return r.IsCompleteAndValid && reserved == 0 && kind is PeerKind.Client or PeerKind.Peer ? WireStatus.Ok : WireStatus.MalformedFrame;
    }
}
