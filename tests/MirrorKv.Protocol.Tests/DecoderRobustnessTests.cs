using CsCheck;
using MirrorKv.Memory;

namespace MirrorKv.Protocol.Tests;

/// <summary>Decoders take whatever the network sends: they answer with a status, never an exception.</summary>
public class DecoderRobustnessTests
{
    [Fact]
    public void EveryDecoder_RandomBytes_ReturnsStatusWithoutThrowing()
    {
        Gen.Byte.Array[0, 200].Sample(bytes =>
        {
            _ = FrameHeader.TryRead(bytes, ProtocolLimits.DefaultMaxFrameSize, out _);
            _ = HelloRequest.TryRead(bytes, out _);
            _ = HelloReply.TryRead(bytes, out _);
            _ = ReadRequest.TryRead(bytes, out _);
            _ = KvRequest.TryRead(bytes, out _);
            _ = KvReply.TryRead(bytes, out _);
            _ = TranslationMessages.TryReadRequest(bytes, out _);
            _ = TranslationMessages.TryReadReply(bytes, out _, out _, out _);
            _ = ReplicateBatch.TryReadAck(bytes, out _, out _);
            var reader = new PayloadReader(bytes);
            if (ReplicateBatch.TryReadHeader(ref reader, out _, out uint count) == WireStatus.Ok)
            {
                for (uint i = 0; i < Math.Min(count, 8u) && ReplicationRecord.TryRead(ref reader, out _) == WireStatus.Ok; i++)
                {
                }
            }
        }, iter: 20_000);
    }

    [Fact]
    public void HelloRequest_TruncatedIPv6Endpoint_IsMalformed()
    {
        // Found by the random-bytes property: family 6 with the address cut short used to throw.
        var request = new HelloRequest(PeerKind.Peer, 1 << 20, new System.Net.IPEndPoint(System.Net.IPAddress.IPv6Loopback, 7400)) { RespEndPoint = new System.Net.IPEndPoint(System.Net.IPAddress.IPv6Loopback, 6379) };
        var hello = new byte[request.EncodedSize];
        request.Write(hello);
        for (int cut = 0; cut < hello.Length; cut++)
        {
            // A peer's HELLO without the RESP endpoint (a 1.0 peer's, or one from before 1.1 added it) is whole.
            WireStatus status = HelloRequest.TryRead(hello.AsSpan(0, cut), out HelloRequest partial);
            if (cut == HelloRequest.Size)
            {
                Assert.Equal((WireStatus.Ok, null), (status, partial.RespEndPoint));
                continue;
            }

            Assert.NotEqual(WireStatus.Ok, status);
        }

        Assert.Equal(WireStatus.Ok, HelloRequest.TryRead(hello, out HelloRequest decoded));
        Assert.Equal(System.Net.IPAddress.IPv6Loopback, decoded.AdvertisedEndPoint!.Address);
        Assert.Equal(6379, decoded.RespEndPoint!.Port);
    }

    [Fact]
    public void KvRequest_TruncatedAnywhere_IsMalformed()
    {
        var request = new KvRequest(3, new RemotePointer(1, 4096, 64), "key"u8, "value"u8);
        var bytes = new byte[request.Size];
        request.Write(bytes);
        for (int cut = 0; cut < bytes.Length; cut++)
        {
            Assert.Equal(WireStatus.MalformedFrame, KvRequest.TryRead(bytes.AsSpan(0, cut), out _));
        }

        Assert.Equal(WireStatus.Ok, KvRequest.TryRead(bytes, out _));
    }

    [Fact]
    public void FrameHeader_LengthBelowHeaderOrAboveMax_IsRefused()
    {
        var header = new byte[FrameHeader.Size];
        new FrameHeader(15, Opcode.Read, WireStatus.Ok, 1).Write(header);
        Assert.Equal(WireStatus.MalformedFrame, FrameHeader.TryRead(header, 1024, out _));
        new FrameHeader(1025, Opcode.Read, WireStatus.Ok, 1).Write(header);
        Assert.Equal(WireStatus.FrameTooLarge, FrameHeader.TryRead(header, 1024, out _));
        new FrameHeader(1024, Opcode.Read, WireStatus.Ok, 1).Write(header);
        header[6] = 1;
        Assert.Equal(WireStatus.MalformedFrame, FrameHeader.TryRead(header, 1024, out _));
    }

    [Fact]
    public void TranslationReply_HugeCount_IsMalformedWithoutAllocating()
    {
        var reply = new byte[TranslationMessages.ReplyFixedSize];
        reply[8] = 0xff;
        reply[9] = 0xff;
        reply[10] = 0xff;
        reply[11] = 0x7f;
        Assert.Equal(WireStatus.MalformedFrame, TranslationMessages.TryReadReply(reply, out _, out _, out SlabMapping[] mappings));
        Assert.Empty(mappings);
    }
}
