using System.Net;
using MirrorKv.Memory;
using MirrorKv.Protocol;

namespace MirrorKv.Fuzz;

/// <summary>One valid frame of each message type, made by the real encoders: the fuzzer's starting corpus.</summary>
public static class SeedFrames
{
    /// <summary>Name and bytes of each seed.</summary>
    public static IEnumerable<(string Name, byte[] Frame)> All()
    {
        var pointer = new RemotePointer(0x1234abcd, 0x7f0000100090, 144);
        var endPoint = new IPEndPoint(IPAddress.Loopback, 7401);
        yield return ("hello", Frame(Opcode.Hello, HelloRequest.Size, b => new HelloRequest(PeerKind.Client, 4 << 20, null).Write(b)));
        var peerHello = new HelloRequest(PeerKind.Peer, 4 << 20, new IPEndPoint(IPAddress.IPv6Loopback, 7400)) { RespEndPoint = new IPEndPoint(IPAddress.IPv6Loopback, 6379) };
        yield return ("hello-peer-v6", Frame(Opcode.Hello, peerHello.EncodedSize, b => peerHello.Write(b)));
        var reply = new HelloReply
        {
            Role = NodeRole.Primary,
            Epoch = 2,
            Incarnation = 0x1122334455667788,
            SlabSize = 1 << 20,
            MaxFrameSize = 4 << 20,
            PeerEndPoint = endPoint,
            Regions = [new RegionInfo(0x1234abcd, AccessFlags.RemoteRead, 0x7f0000000000, 256UL << 20)],
        };
        yield return ("hello-reply", Frame(Opcode.Hello | Opcode.ReplyBit, reply.Size, b => reply.Write(b)));
        yield return ("read", Frame(Opcode.Read, ReadRequest.Size, b => ReadRequest.Write(b, pointer)));
        yield return ("failover-read", Frame(Opcode.FailoverRead, ReadRequest.Size, b => ReadRequest.Write(b, pointer)));
        yield return ("translation", Frame(Opcode.Translation, TranslationMessages.RequestSize, b => TranslationMessages.WriteRequest(b, 0x1234abcd)));
        SlabMapping[] mappings = [new SlabMapping(0x7f0000000000, 0x7e0000f00000), new SlabMapping(0x7f0000100000, 0x7e0000e00000)];
        yield return ("translation-reply", Frame(Opcode.Translation | Opcode.ReplyBit, TranslationMessages.ReplySize(2), b => TranslationMessages.WriteReply(b, 0x55aa55aa, 1 << 20, mappings)));
        (ulong, uint)[] slabs = [(0x7f0000000000, 64), (0x7f0000100000, 4096)];
        yield return ("slabs-reply", Frame(Opcode.Slabs | Opcode.ReplyBit, SlabsMessages.ReplySize(2), b => SlabsMessages.WriteReply(b, 1 << 20, slabs)));
        yield return ("auth", Frame(Opcode.Auth, AuthProof.Size, b =>
        {
            AuthProof.Compute("0123456789abcdef"u8, PeerKind.Client, new byte[AuthProof.ChallengeSize], b);
            return AuthProof.Size;
        }));
        yield return ("write", Frame(Opcode.Write, KvRequest.FixedSize + 7 + 12, b => new KvRequest(1, default, "user:42"u8, "Ada Lovelace"u8).Write(b)));
        yield return ("update", Frame(Opcode.Update, KvRequest.FixedSize + 7 + 8, b => new KvRequest(2, pointer, "user:42"u8, "Ada King"u8).Write(b)));
        yield return ("delete", Frame(Opcode.Delete, KvRequest.FixedSize + 7, b => new KvRequest(2, default, "user:42"u8, default).Write(b)));
        var kvReply = new KvReply(pointer, 42, 2, 1, endPoint);
        yield return ("write-reply", Frame(Opcode.Write | Opcode.ReplyBit, KvReply.Size, b => kvReply.Write(b)));
        int recordSize = ReplicationRecord.FixedSize + 7 + 3;
        yield return ("replicate", Frame(Opcode.Replicate, ReplicateBatch.HeaderSize + recordSize, b =>
        {
            ReplicateBatch.WriteHeader(b, 2, 1);
            return ReplicateBatch.HeaderSize + new ReplicationRecord(7, 42, pointer, 1, "user:42"u8, "Ada"u8).Write(b.AsSpan(ReplicateBatch.HeaderSize));
        }));
        yield return ("replicate-ack", Frame(Opcode.ReplicateAck, ReplicateBatch.AckSize, b => ReplicateBatch.WriteAck(b, 7, 2)));
        yield return ("heartbeat", Frame(Opcode.Heartbeat, Heartbeat.Size, b => new Heartbeat(2, NodeRole.Secondary, 7, 0).Write(b)));
        var status = new NodeStatus(NodeRole.Primary, true, 2, 7, 7, 1, endPoint);
        yield return ("status-reply", Frame(Opcode.Status | Opcode.ReplyBit, NodeStatus.Size, b => status.Write(b)));
        yield return ("error", Frame(Opcode.Error, 12, b => ErrorText.Write(b, "unknown rkey")));
    }

    private static byte[] Frame(Opcode opcode, int payloadLength, Func<byte[], int> write)
    {
        var payload = new byte[payloadLength];
        write(payload);
        var frame = new byte[FrameHeader.Size + payloadLength];
        new FrameHeader((uint)frame.Length, opcode, WireStatus.Ok, 1).Write(frame);
        payload.CopyTo(frame, FrameHeader.Size);
        return frame;
    }
}
