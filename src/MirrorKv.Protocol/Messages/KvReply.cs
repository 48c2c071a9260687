using System.Net;
using MirrorKv.Memory;

namespace MirrorKv.Protocol;

/// <summary>
/// The addressing data: reply payload of WRITE, UPDATE, DELETE and LOOKUP when the status is Ok (56 bytes):
/// pointer (rkey u32, length u32, address u64), version u64, epoch u64, write kind u8 (0 none, 1 inserted,
/// 2 updated in place, 3 relocated, 4 deleted), reserved u8 and u16 (0), secondary endpoint (20 bytes).
/// </summary>
/// <param name="Pointer">Where the entry lives on this node (for DELETE: the tombstoned slot).</param>
/// <param name="Version">The entry's version; a reader can demand at least this one.</param>
/// <param name="Epoch">The node's epoch.</param>
/// <param name="Kind">What a write did.</param>
/// <param name="SecondaryEndPoint">Where to go if this primary fails, when a secondary is attached.</param>
public readonly record struct KvReply(RemotePointer Pointer, ulong Version, ulong Epoch, byte Kind, IPEndPoint? SecondaryEndPoint)
{
    /// <summary>Encoded size.</summary>
    public const int Size = 56;

    /// <summary>Encodes into <paramref name="destination"/>.</summary>
    public int Write(Span<byte> destination)
    {
        var w = new PayloadWriter(destination);
        ReadRequest.WritePointer(ref w, Pointer);
        w.U64(Version);
        w.U64(Epoch);
        w.U8(Kind);
        w.U8(0);
        w.U16(0);
        WireEndPoint.Write(ref w, SecondaryEndPoint);
        return w.Written;
    }

    /// <summary>
    /// Decodes everything but the endpoint, allocating nothing: the client's hot path, which learns the
    /// secondary's endpoint from HELLO instead. The endpoint bytes are still checked.
    /// </summary>
    public static WireStatus TryReadAddressing(ReadOnlySpan<byte> payload, out RemotePointer pointer, out ulong version)
    {
        var r = new PayloadReader(payload);
        pointer = ReadRequest.ReadPointer(ref r);
        version = r.U64();
        r.U64();
        byte kind = r.U8();
        byte reserved1 = r.U8();
        ushort reserved2 = r.U16();
        r.U16();
        ushort family = r.U16();
        r.Bytes(16);
        return r.IsCompleteAndValid && reserved1 == 0 && reserved2 == 0 && kind <= 4 && family is 0 or 4 or 6 ? WireStatus.Ok : WireStatus.MalformedFrame;
    }

    /// <summary>Offset of the secondary endpoint in the payload.</summary>
    public const int SecondaryEndPointOffset = 36;

    /// <summary>The encoded secondary endpoint of a reply payload (20 bytes), to compare without decoding.</summary>
    public static ReadOnlySpan<byte> SecondaryEndPointBytes(ReadOnlySpan<byte> payload) =>
        payload.Length >= Size ? payload.Slice(SecondaryEndPointOffset, WireEndPoint.Size) : default;

    /// <summary>Encodes an endpoint as replies carry it (20 bytes).</summary>
    public static byte[] EncodeEndPoint(IPEndPoint? endPoint)
    {
        var bytes = new byte[WireEndPoint.Size];
        var w = new PayloadWriter(bytes);
        WireEndPoint.Write(ref w, endPoint);
        return bytes;
    }

    /// <summary>Decodes.</summary>
    public static WireStatus TryRead(ReadOnlySpan<byte> payload, out KvReply reply)
    {
        var r = new PayloadReader(payload);
        RemotePointer pointer = ReadRequest.ReadPointer(ref r);
        ulong version = r.U64();
        ulong epoch = r.U64();
        byte kind = r.U8();
        byte reserved1 = r.U8();
        ushort reserved2 = r.U16();
        IPEndPoint? secondary = WireEndPoint.Read(ref r);
        reply = new KvReply(pointer, version, epoch, kind, secondary);
        return r.IsCompleteAndValid && reserved1 == 0 && reserved2 == 0 && kind <= 4 ? WireStatus.Ok : WireStatus.MalformedFrame;
    }
}
