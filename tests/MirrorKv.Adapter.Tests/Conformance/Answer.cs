using System.Buffers.Binary;
using MirrorKv.Adapter.Tests.Safety;
using MirrorKv.Protocol;

namespace MirrorKv.Adapter.Tests.Conformance;

/// <summary>
/// What a node did with one request frame: an error reply or a reply (the connection stays open), or an
/// ERROR frame after which it closed the connection.
/// </summary>
internal readonly record struct Answer(WireStatus Status, bool Closed, byte[] Payload)
{
    public string Text => ErrorText.Read(Payload);

    /// <summary>
    /// Sends <paramref name="frame"/> and waits for its answer, checking the framing rules on the way: a reply
    /// has the request's opcode with 0x80 set and its request id; ERROR has request id 0 and is the last frame
    /// before the close. Frames the node sends on its own (a peer link's REPLICATE and HEARTBEAT) are skipped.
    /// </summary>
    public static async Task<Answer> AskAsync(RawSocket raw, byte[] frame)
    {
        // Read by hand: the frame may be one the codec refuses (bad flags, a reply opcode).
        var request = new FrameHeader((uint)frame.Length, (Opcode)frame[4], WireStatus.Ok, BinaryPrimitives.ReadUInt64LittleEndian(frame.AsSpan(8)));
        await raw.SendAsync(frame);
        while (true)
        {
            (FrameHeader header, byte[] payload) = await raw.ReceiveAsync(10) ?? throw new InvalidOperationException($"opcode 0x{(byte)request.Opcode:x2}: the connection closed without an answer");
            if (header.Opcode == Opcode.Error)
            {
                Assert.Equal(0UL, header.RequestId);
                Assert.Null(await raw.ReceiveAsync(10));
                return new Answer(header.Status, Closed: true, payload);
            }

            if (header.Opcode is Opcode.Replicate or Opcode.Heartbeat)
            {
                continue;
            }

            Assert.Equal((request.Opcode | Opcode.ReplyBit, request.RequestId), (header.Opcode, header.RequestId));
            return new Answer(header.Status, Closed: false, payload);
        }
    }

    /// <summary>The connection still serves requests: a STATUS gets its reply.</summary>
    public static async Task AssertOpenAsync(RawSocket raw)
    {
        Answer status = await AskAsync(raw, RawSocket.Frame(Opcode.Status, 0xAB, new byte[NodeStatus.RequestSize]));
        Assert.Equal((WireStatus.Ok, false), (status.Status, status.Closed));
    }
}
