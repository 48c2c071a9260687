using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using MirrorKv.Memory;

namespace MirrorKv.Protocol.Tests;

/// <summary>
/// Decodes every hex example of docs/protocol.md with the real codec, checks the fields the document
/// states, and re-encodes them: a change to either the code or the document that breaks the other fails here.
/// </summary>
public class ProtocolDocTests
{
    private static IReadOnlyDictionary<string, byte[]> Examples => ProtocolDocument.Examples;

    [Fact]
    public void Document_HasEveryExample()
    {
        string[] expected = ["hello-request", "hello-reply", "hello-request-1-0", "hello-reply-1-0", "read-request", "read-reply", "read-error-reply", "write-request", "write-reply", "replicate", "replicate-ack", "read-lease", "translation-request", "translation-reply", "auth-challenge", "auth-request", "cluster-map-request", "cluster-map-reply", "cluster-map-unchanged", "moved-reply", "expiring-value"];
        Assert.Equal(expected.Order(), Examples.Keys.Order());
    }

    [Fact]
    public void HelloRequest_Example_Decodes()
    {
        ReadOnlySpan<byte> payload = Frame("hello-request", Opcode.Hello, WireStatus.Ok, 1);
        Assert.Equal(WireStatus.Ok, HelloRequest.TryRead(payload, out HelloRequest hello));
        // A current client's HELLO, with the reference client's default maximum frame (4 MiB).
        Assert.Equal(new HelloRequest(PeerKind.Client, ProtocolLimits.DefaultMaxFrameSize, null) { Version = ProtocolVersion.Current }, hello);
        Assert.Equal(4u << 20, ProtocolLimits.DefaultMaxFrameSize);
        AssertReencodes(payload, b => hello.Write(b));
    }

    [Fact]
    public void HelloExamples_OfVersion1_0_DifferFromTheCurrentOnlyInTheMinorByte()
    {
        ReadOnlySpan<byte> request = Frame("hello-request-1-0", Opcode.Hello, WireStatus.Ok, 1);
        Assert.Equal(WireStatus.Ok, HelloRequest.TryRead(request, out HelloRequest hello));
        Assert.Equal(new HelloRequest(PeerKind.Client, 4u << 20, null) { Version = ProtocolVersion.V1_0 }, hello);
        AssertReencodes(request, b => hello.Write(b));

        ReadOnlySpan<byte> reply = Frame("hello-reply-1-0", Opcode.Hello | Opcode.ReplyBit, WireStatus.Ok, 1);
        Assert.Equal(WireStatus.Ok, HelloReply.TryRead(reply, out HelloReply? decoded));
        Assert.Equal(ProtocolVersion.V1_0, decoded!.Version);
        AssertReencodes(reply, b => decoded.Write(b));

        // Byte 5 of the payload is the minor version; nothing else tells 1.0 from the current version.
        foreach ((string old, string current) in new[] { ("hello-request-1-0", "hello-request"), ("hello-reply-1-0", "hello-reply") })
        {
            byte[] a = Examples[old], b = Examples[current];
            Assert.Equal(a.Length, b.Length);
            int[] differ = [.. Enumerable.Range(0, a.Length).Where(i => a[i] != b[i])];
            Assert.Equal([FrameHeader.Size + 5], differ);
            Assert.Equal((0, (int)ProtocolVersion.Current.Minor), (a[FrameHeader.Size + 5], b[FrameHeader.Size + 5]));
        }
    }

    [Fact]
    public void HelloReply_Example_Decodes()
    {
        ReadOnlySpan<byte> payload = Frame("hello-reply", Opcode.Hello | Opcode.ReplyBit, WireStatus.Ok, 1);
        Assert.Equal(WireStatus.Ok, HelloReply.TryRead(payload, out HelloReply? reply));
        Assert.Equal(ProtocolVersion.Current, reply!.Version);
        Assert.Equal(NodeRole.Primary, reply.Role);
        Assert.Equal(1UL, reply.Epoch);
        Assert.Equal(0x1122334455667788UL, reply.Incarnation);
        Assert.Equal(1u << 20, reply.SlabSize);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 7401), reply.PeerEndPoint);

        // A node's default maximum frame: a REPLICATE record of the largest key (1,024) and value (16 MiB) in one
        // frame, rounded up to 64 KiB (NodeOptions.MaxFrameSize), as "Large entries" and "Limits" say.
        const long largest = FrameHeader.Size + ReplicateBatch.HeaderSize + ReplicationRecord.FixedSize + 1024 + (16 << 20);
        Assert.Equal((uint)((largest + 0xFFFF) & ~0xFFFFL), reply.MaxFrameSize);
        Assert.Equal(16_842_752u, reply.MaxFrameSize);

        // The first region: one slab, by default.
        Assert.Equal([new RegionInfo(0x1234abcd, AccessFlags.RemoteRead, 0x7f0000000000, 1UL << 20)], reply.Regions);
        AssertReencodes(payload, b => reply.Write(b));
    }

    [Fact]
    public void ClusterMap_Examples_DecodeToTheDocumentedMap_AndReencode()
    {
        ReadOnlySpan<byte> request = Frame("cluster-map-request", Opcode.ClusterMap, WireStatus.Ok, 10);
        Assert.Equal(WireStatus.Ok, ClusterMapMessages.TryReadRequest(request, out ulong known));
        Assert.Equal(0UL, known);
        AssertReencodes(request, b => ClusterMapMessages.WriteRequest(b, 0));

        ReadOnlySpan<byte> reply = Frame("cluster-map-reply", Opcode.ClusterMap | Opcode.ReplyBit, WireStatus.Ok, 10);
        Assert.Equal(WireStatus.Ok, ClusterMapMessages.TryReadReply(reply, out ulong version, out ClusterMap? map, out string? error));
        Assert.Null(error);
        Assert.Equal((1UL, "dev"), (version, map!.Name));
        IPEndPoint At(int port) => new(IPAddress.Loopback, port);
        Assert.Equal(["p1", "p2"], map.Pairs.Select(p => p.Id));
        Assert.Equal([new ClusterMember(At(7400), At(6400)), new ClusterMember(At(7401))], map.Pairs[0].Members);
        Assert.Equal([new ClusterMember(At(7402), At(6402)), new ClusterMember(At(7403))], map.Pairs[1].Members);
        Assert.Equal([new SlotRange(0, 8191, "p1"), new SlotRange(8192, 16383, "p2")], map.Ranges);
        Assert.Equal(reply.Length, ClusterMapMessages.ReplySize(map));
        ClusterMap decoded = map;
        AssertReencodes(reply, b => ClusterMapMessages.WriteReply(b, decoded));

        ReadOnlySpan<byte> unchanged = Frame("cluster-map-unchanged", Opcode.ClusterMap | Opcode.ReplyBit, WireStatus.Ok, 11);
        Assert.Equal(WireStatus.Ok, ClusterMapMessages.TryReadReply(unchanged, out version, out map, out _));
        Assert.Equal((1UL, (ClusterMap?)null), (version, map));
        AssertReencodes(unchanged, b => ClusterMapMessages.WriteUnchanged(b, 1));
    }

    [Fact]
    public void Moved_Example_NamesTheOwnerOfFoosSlot()
    {
        ReadOnlySpan<byte> payload = Frame("moved-reply", Opcode.Write | Opcode.ReplyBit, WireStatus.Moved, 8);
        Assert.True(Redirect.TryParse(payload, out Redirect? redirect));
        Assert.Equal(new Redirect(HashSlot.Of("foo"), new IPEndPoint(IPAddress.Loopback, 7402), "p2", 1), redirect);
        Assert.Equal(12182, redirect!.Slot);
        Assert.Equal(redirect.ToString(), ErrorText.Read(payload));
    }

    [Fact]
    public void Auth_Examples_AreTheChallengeAndTheProofForTheDocumentedSecret()
    {
        ReadOnlySpan<byte> challenge = Frame("auth-challenge", Opcode.Hello | Opcode.ReplyBit, WireStatus.AuthRequired, 1);
        Assert.Equal(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray(), challenge.ToArray());
        ReadOnlySpan<byte> proof = Frame("auth-request", Opcode.Auth, WireStatus.Ok, 2);
        Assert.True(AuthProof.Verify("0123456789abcdef"u8, PeerKind.Client, challenge, proof));
        var computed = new byte[AuthProof.Size];
        AuthProof.Compute("0123456789abcdef"u8, PeerKind.Client, challenge, computed);
        Assert.Equal(proof.ToArray(), computed);

        // The page says the proof is a client's (peer kind 1): as a peer adapter's it would not match.
        Assert.Equal(1, (byte)PeerKind.Client);
        Assert.False(AuthProof.Verify("0123456789abcdef"u8, PeerKind.Peer, challenge, proof));
    }

    [Fact]
    public void ReadRequest_Example_Decodes()
    {
        ReadOnlySpan<byte> payload = Frame("read-request", Opcode.Read, WireStatus.Ok, 7);
        Assert.Equal(WireStatus.Ok, ReadRequest.TryRead(payload, out RemotePointer pointer));
        Assert.Equal(new RemotePointer(0x1234abcd, 0x7f0000000000, 48), pointer);
        AssertReencodes(payload, b => ReadRequest.Write(b, pointer));

        // The pointer of the WRITE reply example, inside the first region of the HELLO reply example.
        Assert.Equal(WireStatus.Ok, KvReply.TryRead(Frame("write-reply", Opcode.Write | Opcode.ReplyBit, WireStatus.Ok, 8), out KvReply written));
        Assert.Equal(written.Pointer, pointer);
        Assert.Equal(WireStatus.Ok, HelloReply.TryRead(Frame("hello-reply", Opcode.Hello | Opcode.ReplyBit, WireStatus.Ok, 1), out HelloReply? hello));
        RegionInfo region = Assert.Single(hello!.Regions);
        Assert.Equal(region.RKey, pointer.RKey);
        Assert.True(pointer.Address >= region.BaseAddress && pointer.Address + pointer.Length <= region.BaseAddress + region.Length);
    }

    [Fact]
    public void ReadReply_Example_CarriesTheWholeSlotOfTheReadRequest()
    {
        // The entry's bytes are checked against the entry codec in MirrorKv.Entries.Tests (EntryDocTests).
        ReadOnlySpan<byte> payload = Frame("read-reply", Opcode.Read | Opcode.ReplyBit, WireStatus.Ok, 7);
        Assert.Equal(WireStatus.Ok, ReadRequest.TryRead(Frame("read-request", Opcode.Read, WireStatus.Ok, 7), out RemotePointer pointer));
        Assert.Equal((int)pointer.Length, payload.Length);
        Assert.Equal(pointer.Length, BinaryPrimitives.ReadUInt32LittleEndian(payload[16..]));
        Assert.Equal("k1hello"u8, payload.Slice(28, 7));
    }

    [Fact]
    public void ReadErrorReply_Example_Decodes()
    {
        ReadOnlySpan<byte> payload = Frame("read-error-reply", Opcode.Read | Opcode.ReplyBit, WireStatus.UnknownRKey, 7);
        Assert.Equal("unknown rkey", ErrorText.Read(payload));
    }

    [Fact]
    public void WriteRequest_Example_Decodes()
    {
        ReadOnlySpan<byte> payload = Frame("write-request", Opcode.Write, WireStatus.Ok, 8);
        Assert.Equal(WireStatus.Ok, KvRequest.TryRead(payload, out KvRequest request));
        Assert.Equal(1UL, request.Epoch);
        Assert.True(request.Pointer.IsNull);
        Assert.Equal("k1"u8, request.Key);
        Assert.Equal("hello"u8, request.Value);
        var copy = new byte[request.Size];
        request.Write(copy);
        Assert.Equal(payload, copy);
    }

    [Fact]
    public void WriteReply_Example_Decodes()
    {
        ReadOnlySpan<byte> payload = Frame("write-reply", Opcode.Write | Opcode.ReplyBit, WireStatus.Ok, 8);
        Assert.Equal(WireStatus.Ok, KvReply.TryRead(payload, out KvReply reply));
        Assert.Equal(new KvReply(new RemotePointer(0x1234abcd, 0x7f0000000000, 48), 2, 1, 1, new IPEndPoint(IPAddress.Loopback, 7401)), reply);
        AssertReencodes(payload, b => reply.Write(b));
    }

    [Fact]
    public void Replicate_Example_Decodes()
    {
        ReadOnlySpan<byte> payload = Frame("replicate", Opcode.Replicate, WireStatus.Ok, 1);
        var reader = new PayloadReader(payload);
        Assert.Equal(WireStatus.Ok, ReplicateBatch.TryReadHeader(ref reader, out ulong epoch, out uint count));
        Assert.Equal((1UL, 1u), (epoch, count));
        Assert.Equal(WireStatus.Ok, ReplicationRecord.TryRead(ref reader, out ReplicationRecord record));
        Assert.True(reader.IsCompleteAndValid);
        Assert.Equal((1UL, 2UL, new RemotePointer(0x1234abcd, 0x7f0000000000, 48), (byte)1), (record.Lsn, record.Version, record.Slot, record.Flags));
        Assert.Equal("k1"u8, record.Key);
        Assert.Equal("hello"u8, record.Value);
    }

    [Fact]
    public void ReplicateAck_Example_Decodes()
    {
        ReadOnlySpan<byte> payload = Frame("replicate-ack", Opcode.ReplicateAck, WireStatus.Ok, 0);
        Assert.Equal(WireStatus.Ok, ReplicateBatch.TryReadAck(payload, out ulong lsn, out ulong epoch));
        Assert.Equal((1UL, 1UL), (lsn, epoch));
        AssertReencodes(payload, b => ReplicateBatch.WriteAck(b, lsn, epoch));
    }

    [Fact]
    public void ReadLease_Example_Decodes()
    {
        ReadOnlySpan<byte> payload = Frame("read-lease", Opcode.ReadLease, WireStatus.Ok, 0);
        Assert.Equal(WireStatus.Ok, ReadLeaseMessages.TryRead(payload, out ulong epoch, out ulong stamp));
        Assert.Equal((1UL, 123_456UL), (epoch, stamp));
        AssertReencodes(payload, b => ReadLeaseMessages.Write(b, epoch, stamp));
        Assert.Equal(WireStatus.MalformedFrame, ReadLeaseMessages.TryRead(payload[..15], out _, out _));
    }

    [Fact]
    public void Translation_Examples_Decode()
    {
        ReadOnlySpan<byte> request = Frame("translation-request", Opcode.Translation, WireStatus.Ok, 9);
        Assert.Equal(WireStatus.Ok, TranslationMessages.TryReadRequest(request, out uint rkey));
        Assert.Equal(0x2468ace0u, rkey);
        AssertReencodes(request, b => TranslationMessages.WriteRequest(b, rkey));

        ReadOnlySpan<byte> reply = Frame("translation-reply", Opcode.Translation | Opcode.ReplyBit, WireStatus.Ok, 9);
        Assert.Equal(WireStatus.Ok, TranslationMessages.TryReadReply(reply, out uint localRKey, out uint slabSize, out SlabMapping[] mappings));
        Assert.Equal((0x5678ef01u, 1u << 20), (localRKey, slabSize));
        Assert.Equal([new SlabMapping(0x7f2000000000, 0x7e2000100000), new SlabMapping(0x7f2000100000, 0x7e2000000000)], mappings);
        Assert.NotEqual(mappings[0].Delta, mappings[1].Delta);
        AssertReencodes(reply, b => TranslationMessages.WriteReply(b, localRKey, slabSize, mappings));

        // The page's delta formula for a 2 MiB region mirrored from the start: slab k maps to the k-th from the top.
        const ulong primaryBase = 0x7f2000000000, localBase = 0x7e2000000000, length = 2 << 20, slab = 1 << 20;
        for (int k = 0; k < 2; k++)
        {
            Assert.Equal(unchecked((long)((localBase + length - ((ulong)(k + 1) * slab)) - (primaryBase + ((ulong)k * slab)))), mappings[k].Delta);
        }

        // The rewrites the page shows, done as a client does them (one table from the reply).
        var table = new TranslationTable((int)slabSize);
        table.MapRegion(rkey, primaryBase, length, localRKey);
        foreach (SlabMapping m in mappings)
        {
            table.MapSlab(rkey, m.PrimarySlabBase, m.LocalSlabBase);
        }

        string page = ProtocolDocument.Text.Replace('\n', ' ');
        foreach ((ulong from, ulong to, string between) in new[] { (0x7f2000100030UL, 0x7e2000000030UL, " lies in the second slab and becomes "), (0x7f2000000030UL, 0x7e2000100030UL, ", in the first slab, becomes ") })
        {
            Assert.Equal(new RemotePointer(localRKey, to, 48), table.Translate(new RemotePointer(rkey, from, 48)));
            Assert.Contains($"`(0x{rkey:x8}, 48, 0x{from:x})`{between}`(0x{localRKey:x8}, 48, 0x{to:x})`", page, StringComparison.Ordinal);
        }
    }

    private static ReadOnlySpan<byte> Frame(string name, Opcode opcode, WireStatus status, ulong requestId)
    {
        byte[] frame = Examples[name];
        Assert.Equal(WireStatus.Ok, FrameHeader.TryRead(frame, ProtocolLimits.DefaultMaxFrameSize, out FrameHeader header));
        Assert.Equal(new FrameHeader((uint)frame.Length, opcode, status, requestId), header);
        var rewritten = new byte[FrameHeader.Size];
        header.Write(rewritten);
        Assert.Equal(frame.AsSpan(0, FrameHeader.Size).ToArray(), rewritten);
        return frame.AsSpan(FrameHeader.Size);
    }

    private static void AssertReencodes(ReadOnlySpan<byte> payload, Func<byte[], int> write)
    {
        var copy = new byte[payload.Length];
        Assert.Equal(payload.Length, write(copy));
        Assert.Equal(payload, copy);
    }
}
