using MirrorKv.Memory;

namespace MirrorKv.Protocol;

/// <summary>
/// READ and FAILOVER_READ payload (16 bytes): rkey u32, length u32, address u64. The reply's payload is
/// the bytes read (exactly length of them) when the status is Ok.
/// </summary>
public static class ReadRequest
{
    /// <summary>Encoded size.</summary>
    public const int Size = 16;

    /// <summary>Encodes a pointer.</summary>
    public static int Write(Span<byte> destination, in RemotePointer pointer)
    {
        var w = new PayloadWriter(destination);
        WritePointer(ref w, pointer);
        return w.Written;
    }

    /// <summary>Decodes a pointer.</summary>
    public static WireStatus TryRead(ReadOnlySpan<byte> payload, out RemotePointer pointer)
    {
        var r = new PayloadReader(payload);
        pointer = ReadPointer(ref r);
        return r.IsCompleteAndValid ? WireStatus.Ok : WireStatus.MalformedFrame;
    }

    internal static void WritePointer(ref PayloadWriter w, in RemotePointer pointer)
    {
        w.U32(pointer.RKey);
        w.U32(pointer.Length);
        w.U64(pointer.Address);
    }

    internal static RemotePointer ReadPointer(ref PayloadReader r)
    {
        uint rkey = r.U32();
        uint length = r.U32();
        return new RemotePointer(rkey, r.U64(), length);
    }
}
