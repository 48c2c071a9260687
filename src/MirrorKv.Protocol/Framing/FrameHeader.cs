using System.Buffers.Binary;
using MirrorKv.Transport;

namespace MirrorKv.Protocol;

/// <summary>
/// The 16-byte header in front of every frame, little-endian:
/// length u32 (whole frame, header included), opcode u8, status u8, flags u16 (0), request id u64.
/// </summary>
/// <remarks>
/// It is the transport's frame header (<see cref="FrameLayout"/>: length, immediate data, request id) with the
/// immediate data read as opcode, status and flags; <see cref="ImmediateOf"/> and <see cref="TryFromFrame"/> map
/// between the two, so that the transport never knows an opcode or a status.
/// </remarks>
/// <param name="Length">Bytes in the whole frame, header included.</param>
/// <param name="Opcode">What the frame is; replies have <see cref="Opcode.ReplyBit"/> set.</param>
/// <param name="Status">0 in requests; the result in replies.</param>
/// <param name="RequestId">Chosen by the requester (the work request id) and echoed in the reply.</param>
public readonly record struct FrameHeader(uint Length, Opcode Opcode, WireStatus Status, ulong RequestId)
{
    /// <summary>Bytes in the header.</summary>
    public const int Size = FrameLayout.HeaderSize;

    /// <summary>Payload bytes after the header.</summary>
    public int PayloadLength => (int)(Length - Size);

    /// <summary>True for a reply frame.</summary>
    public bool IsReply => ((byte)Opcode & (byte)Opcode.ReplyBit) != 0;

    /// <summary>The request opcode, with the reply bit cleared.</summary>
    public Opcode BaseOpcode => (Opcode)((byte)Opcode & ~(byte)Opcode.ReplyBit);

    /// <summary>The transport's immediate data for a frame with <paramref name="opcode"/> and <paramref name="status"/>: flags 0.</summary>
    public static uint ImmediateOf(Opcode opcode, WireStatus status) => (byte)opcode | ((uint)(byte)status << 8);

    /// <summary>
    /// The header of a frame the transport delivered, from its immediate data; false when the reserved flags (the
    /// immediate data's upper 16 bits) are not 0, which makes the frame malformed.
    /// </summary>
    public static bool TryFromFrame(uint immediate, ulong requestId, int payloadLength, out FrameHeader header)
    {
        header = new FrameHeader((uint)(Size + payloadLength), (Opcode)(byte)immediate, (WireStatus)(byte)(immediate >> 8), requestId);
        return immediate >> 16 == 0;
    }

    /// <summary>Writes the header into the first 16 bytes of <paramref name="destination"/>.</summary>
    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Length);
        destination[4] = (byte)Opcode;
        destination[5] = (byte)Status;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], RequestId);
    }

    /// <summary>
    /// Reads a header. Checks what can be checked without the payload: the length lies in
    /// [16, <paramref name="maxFrameSize"/>] and the flags are 0.
    /// </summary>
    public static WireStatus TryRead(ReadOnlySpan<byte> source, uint maxFrameSize, out FrameHeader header)
    {
        header = default;
        if (source.Length < Size)
        {
            return WireStatus.MalformedFrame;
        }

        uint length = BinaryPrimitives.ReadUInt32LittleEndian(source);
        header = new FrameHeader(length, (Opcode)source[4], (WireStatus)source[5], BinaryPrimitives.ReadUInt64LittleEndian(source[8..]));
        if (length < Size || BinaryPrimitives.ReadUInt16LittleEndian(source[6..]) != 0)
        {
            return WireStatus.MalformedFrame;
        }

        return length > maxFrameSize ? WireStatus.FrameTooLarge : WireStatus.Ok;
    }
}
