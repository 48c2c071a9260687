using System.Net.Sockets;
using MirrorKv.Memory;
using MirrorKv.Protocol;

namespace MirrorKv.BadTraffic;

/// <summary>Frames built by hand, including the ones a real client never sends.</summary>
internal static class Frames
{
    public static byte[] Frame(Opcode opcode, ulong requestId, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[FrameHeader.Size + payload.Length];
        new FrameHeader((uint)frame.Length, opcode, WireStatus.Ok, requestId).Write(frame);
        payload.CopyTo(frame.AsSpan(FrameHeader.Size));
        return frame;
    }

    public static byte[] Hello()
    {
        var hello = new byte[HelloRequest.Size];
        new HelloRequest(PeerKind.Client, ProtocolLimits.DefaultMaxFrameSize).Write(hello);
        return Frame(Opcode.Hello, 1, hello);
    }

    public static byte[] Read(ulong requestId, RemotePointer pointer)
    {
        var payload = new byte[ReadRequest.Size];
        ReadRequest.Write(payload, pointer);
        return Frame(Opcode.Read, requestId, payload);
    }

    /// <summary>Reads the HELLO reply; null when the node refused (too many connections, say) or closed.</summary>
    public static async Task<RegionInfo?> ReadHelloAsync(Socket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        int length = 0;
        while (length < FrameHeader.Size || length < BitConverter.ToInt32(buffer, 0))
        {
            int read = await socket.ReceiveAsync(buffer.AsMemory(length), cancellationToken);
            if (read == 0)
            {
                return null;
            }

            length += read;
        }

        if (FrameHeader.TryRead(buffer.AsSpan(0, length), (uint)buffer.Length, out FrameHeader header) != WireStatus.Ok || header.Status != WireStatus.Ok)
        {
            return null;
        }

        return HelloReply.TryRead(buffer.AsSpan(FrameHeader.Size, header.PayloadLength), out HelloReply? reply) == WireStatus.Ok ? reply!.Regions[0] : null;
    }
}
