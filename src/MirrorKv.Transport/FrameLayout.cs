using System.Buffers.Binary;

namespace MirrorKv.Transport;

/// <summary>
/// The frame every backend moves: a 16-byte header, little-endian, then the payload. The header holds the
/// frame's length (header included, u32), its immediate data (u32) and its request id (u64). The transport
/// reads only the length, to delimit frames on a byte stream and to bound what it buffers; immediate data and
/// request id are the layer above's, carried unchanged, as an RDMA SEND carries a work request's immediate
/// data. A verbs backend, where the network delimits messages itself, would carry the same bytes.
/// </summary>
public static class FrameLayout
{
    /// <summary>Bytes in a frame's header.</summary>
    public const int HeaderSize = 16;

    /// <summary>
    /// The largest maximum frame size a connection may be given: it bounds the memory one connection can make a
    /// process buffer (a receive buffer holds one frame at most, plus what one read brought).
    /// </summary>
    public const uint MaxFrameSize = 64 * 1024 * 1024;

    /// <summary>
    /// A connection's maximum frame size until the layer above sets one (after its handshake): 4 MiB, room for a
    /// 1 MiB payload many times over while capping what an unknown sender can make a process buffer.
    /// </summary>
    public const uint DefaultMaxFrameSize = 4 * 1024 * 1024;

    /// <summary>The frame length in the header at the start of <paramref name="frame"/> (at least 4 bytes).</summary>
    public static uint ReadLength(ReadOnlySpan<byte> frame) => BinaryPrimitives.ReadUInt32LittleEndian(frame);

    /// <summary>The immediate data in the header at the start of <paramref name="frame"/>.</summary>
    public static uint ReadImmediate(ReadOnlySpan<byte> frame) => BinaryPrimitives.ReadUInt32LittleEndian(frame[4..]);

    /// <summary>The request id in the header at the start of <paramref name="frame"/>.</summary>
    public static ulong ReadRequestId(ReadOnlySpan<byte> frame) => BinaryPrimitives.ReadUInt64LittleEndian(frame[8..]);

    /// <summary>Writes a header into the first <see cref="HeaderSize"/> bytes of <paramref name="destination"/>.</summary>
    public static void WriteHeader(Span<byte> destination, uint length, uint immediate, ulong requestId)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, length);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], immediate);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], requestId);
    }

    /// <summary>
    /// Checks a frame length against the header size and <paramref name="maxFrameSize"/>: null when it is
    /// acceptable, else what is wrong with it.
    /// </summary>
    public static FramingError? Check(uint length, uint maxFrameSize) =>
        length < HeaderSize ? FramingError.LengthBelowHeader
        : length > maxFrameSize ? FramingError.TooLarge
        : null;
}
