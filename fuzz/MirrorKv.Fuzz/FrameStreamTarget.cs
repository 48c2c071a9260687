using MirrorKv.Memory;
using MirrorKv.Protocol;

namespace MirrorKv.Fuzz;

/// <summary>
/// The fuzz target: bytes as a connection receives them. Frames are cut as the transport cuts them, each
/// payload goes to the decoder of its opcode, and whatever decodes must survive a round trip (encode,
/// decode again, same message). Decoders answer with a status; an exception here is a bug, and afl++
/// counts it as a crash.
/// </summary>
public static class FrameStreamTarget
{
    private const uint MaxFrameSize = 1 << 20;

    /// <summary>Frames decoded, for the replay summary.</summary>
    public static long DecodedFrames { get; private set; }

    /// <summary>Runs one input.</summary>
    public static void Run(ReadOnlySpan<byte> input)
    {
        while (input.Length >= FrameHeader.Size)
        {
            if (FrameHeader.TryRead(input, MaxFrameSize, out FrameHeader header) != WireStatus.Ok)
            {
                return;
            }

            if (header.Length < FrameHeader.Size || header.Length > MaxFrameSize)
            {
                throw new InvalidOperationException($"FrameHeader accepted length {header.Length} outside [16, {MaxFrameSize}]");
            }

            if (input.Length < header.Length)
            {
                return;
            }

            Decode(header, input.Slice(FrameHeader.Size, header.PayloadLength));
            DecodedFrames++;
            input = input[(int)header.Length..];
        }
    }

    private static void Decode(in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.Status != WireStatus.Ok && header.IsReply || header.Opcode == Opcode.Error)
        {
            // Error replies carry text: any bytes must decode to some string.
            _ = ErrorText.Read(payload);
            return;
        }

        switch (header.Opcode)
        {
            case Opcode.Hello:
                if (HelloRequest.TryRead(payload, out HelloRequest hello) == WireStatus.Ok)
                {
                    var copy = new byte[hello.EncodedSize];
                    hello.Write(copy);
                    Same(HelloRequest.TryRead(copy, out HelloRequest again) == WireStatus.Ok && again == hello, "HELLO");
                }

                break;
            case Opcode.Hello | Opcode.ReplyBit or Opcode.Auth | Opcode.ReplyBit:
                if (HelloReply.TryRead(payload, out HelloReply? reply) == WireStatus.Ok)
                {
                    byte[] first = Encode(reply!.Size, b => reply.Write(b));
                    Same(HelloReply.TryRead(first, out HelloReply? again) == WireStatus.Ok && Encode(again!.Size, b => again.Write(b)).AsSpan().SequenceEqual(first), "HELLO reply");
                }

                break;
            case Opcode.Read or Opcode.FailoverRead:
                if (ReadRequest.TryRead(payload, out RemotePointer pointer) == WireStatus.Ok)
                {
                    byte[] copy = Encode(ReadRequest.Size, b => ReadRequest.Write(b, pointer));
                    Same(ReadRequest.TryRead(copy, out RemotePointer again) == WireStatus.Ok && again == pointer, "READ");
                }

                break;
            case Opcode.Translation:
                _ = TranslationMessages.TryReadRequest(payload, out _);
                break;
            case Opcode.Translation | Opcode.ReplyBit:
                if (TranslationMessages.TryReadReply(payload, out uint localRKey, out uint slabSize, out SlabMapping[] mappings) == WireStatus.Ok)
                {
                    byte[] copy = Encode(TranslationMessages.ReplySize(mappings.Length), b => TranslationMessages.WriteReply(b, localRKey, slabSize, mappings));
                    Same(TranslationMessages.TryReadReply(copy, out uint k, out uint s, out SlabMapping[] m) == WireStatus.Ok && k == localRKey && s == slabSize && m.SequenceEqual(mappings), "TRANSLATION reply");
                }

                break;
            case Opcode.Slabs | Opcode.ReplyBit:
                if (SlabsMessages.TryReadReply(payload, out uint size, out (ulong SlabBase, uint SlotSize)[] slabs) == WireStatus.Ok)
                {
                    byte[] copy = Encode(SlabsMessages.ReplySize(slabs.Length), b => SlabsMessages.WriteReply(b, size, slabs));
                    Same(SlabsMessages.TryReadReply(copy, out uint s, out (ulong, uint)[] again) == WireStatus.Ok && s == size && again.SequenceEqual(slabs), "SLABS reply");
                }

                break;
            case Opcode.Auth:
                _ = AuthProof.Verify("fuzzing secret, 16+ bytes"u8, PeerKind.Client, new byte[AuthProof.ChallengeSize], payload);
                break;
            case Opcode.Write or Opcode.Update or Opcode.Delete or Opcode.Lookup:
                if (KvRequest.TryRead(payload, out KvRequest request) == WireStatus.Ok)
                {
                    var copy = new byte[request.Size];
                    request.Write(copy);
                    Same(KvRequest.TryRead(copy, out KvRequest again) == WireStatus.Ok && again.Epoch == request.Epoch && again.Pointer == request.Pointer
                        && again.Key.SequenceEqual(request.Key) && again.Value.SequenceEqual(request.Value), "KV request");
                }

                break;
            case Opcode.Write | Opcode.ReplyBit or Opcode.Update | Opcode.ReplyBit or Opcode.Delete | Opcode.ReplyBit or Opcode.Lookup | Opcode.ReplyBit:
                if (KvReply.TryRead(payload, out KvReply kvReply) == WireStatus.Ok)
                {
                    byte[] copy = Encode(KvReply.Size, b => kvReply.Write(b));
                    Same(KvReply.TryRead(copy, out KvReply again) == WireStatus.Ok && again == kvReply, "KV reply");
                }

                break;
            case Opcode.Replicate:
                DecodeReplicate(payload);
                break;
            case Opcode.ReplicateAck:
                if (ReplicateBatch.TryReadAck(payload, out ulong lsn, out ulong epoch) == WireStatus.Ok)
                {
                    byte[] copy = Encode(ReplicateBatch.AckSize, b => ReplicateBatch.WriteAck(b, lsn, epoch));
                    Same(ReplicateBatch.TryReadAck(copy, out ulong l, out ulong e) == WireStatus.Ok && l == lsn && e == epoch, "REPLICATE_ACK");
                }

                break;
            case Opcode.Heartbeat:
                if (Heartbeat.TryRead(payload, out Heartbeat heartbeat) == WireStatus.Ok)
                {
                    byte[] copy = Encode(Heartbeat.Size, b => heartbeat.Write(b));
                    Same(Heartbeat.TryRead(copy, out Heartbeat again) == WireStatus.Ok && again == heartbeat, "HEARTBEAT");
                }

                break;
            case Opcode.Status | Opcode.ReplyBit:
                if (NodeStatus.TryRead(payload, out NodeStatus? status) == WireStatus.Ok)
                {
                    byte[] copy = Encode(NodeStatus.Size, b => status!.Write(b));
                    Same(NodeStatus.TryRead(copy, out NodeStatus? again) == WireStatus.Ok && Encode(NodeStatus.Size, b => again!.Write(b)).AsSpan().SequenceEqual(copy), "STATUS reply");
                }

                break;
            default:
                break;
        }
    }

    private static void DecodeReplicate(ReadOnlySpan<byte> payload)
    {
        var reader = new PayloadReader(payload);
        if (ReplicateBatch.TryReadHeader(ref reader, out _, out uint count) != WireStatus.Ok)
        {
            return;
        }

        for (uint i = 0; i < count; i++)
        {
            if (ReplicationRecord.TryRead(ref reader, out ReplicationRecord record) != WireStatus.Ok)
            {
                return;
            }

            var copy = new byte[record.Size];
            record.Write(copy);
            var again = new PayloadReader(copy);
            Same(ReplicationRecord.TryRead(ref again, out ReplicationRecord decoded) == WireStatus.Ok && decoded.Lsn == record.Lsn && decoded.Version == record.Version
                && decoded.Slot == record.Slot && decoded.Flags == record.Flags && decoded.Key.SequenceEqual(record.Key) && decoded.Value.SequenceEqual(record.Value), "REPLICATE record");
        }
    }

    private static byte[] Encode(int size, Func<byte[], int> write)
    {
        var bytes = new byte[size];
        int written = write(bytes);
        Same(written == size, $"encoder wrote {written} of {size} bytes");
        return bytes;
    }

    private static void Same(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException($"round trip failed: {what}");
        }
    }
}
