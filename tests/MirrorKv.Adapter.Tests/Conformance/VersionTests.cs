using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MirrorKv.Adapter.Tests.Safety;
using MirrorKv.Client;
using MirrorKv.Memory;
using MirrorKv.Protocol;
using MirrorKv.Protocol.Tests;

namespace MirrorKv.Adapter.Tests.Conformance;

/// <summary>docs/protocol.md, "Versions", against a running node: what it answers to each version offered.</summary>
public class VersionTests
{
    [Fact]
    public async Task Node_AnswersEachOfferedVersion_AsTheTableSays()
    {
        await using TcpPair node = await TcpPair.StartPrimaryAsync();
        foreach (string[] row in ProtocolDocument.Table("Versions", "HELLO version bytes"))
        {
            byte[] offered = ProtocolDocument.HexBytes(row[0]);
            await using RawSocket raw = await RawSocket.ConnectAsync(node.EndPoint);
            byte[] hello = RawSocket.HelloFrame();
            offered.CopyTo(hello, FrameHeader.Size + 4);
            Answer answer = await Answer.AskAsync(raw, hello);
            if (row[1].Contains("ERROR", StringComparison.Ordinal))
            {
                Assert.Equal((WireStatus.UnsupportedProtocol, true), (answer.Status, answer.Closed));
                continue;
            }

            Assert.Equal((WireStatus.Ok, false), (answer.Status, answer.Closed));
            Assert.Equal(ProtocolDocument.HexBytes(row[1]), answer.Payload[4..6]);
            Assert.Equal(WireStatus.Ok, HelloReply.TryRead(answer.Payload, out HelloReply? reply));
            Assert.Equal(ProtocolVersion.FromEncoded(BinaryPrimitives.ReadUInt16LittleEndian(answer.Payload.AsSpan(4))), reply!.Version);
            await Answer.AssertOpenAsync(raw);
        }
    }

    [Fact]
    public async Task Version1_0Caller_GetsTheSameHelloReplyAsA1_1Caller_ButForTheMinorByte()
    {
        await using TcpPair node = await TcpPair.StartPrimaryAsync();
        byte[][] replies = new byte[2][];
        foreach ((int i, ProtocolVersion version) in new[] { (0, ProtocolVersion.V1_0), (1, ProtocolVersion.V1_1) })
        {
            await using RawSocket raw = await RawSocket.ConnectAsync(node.EndPoint);
            Answer answer = await Answer.AskAsync(raw, RawSocket.HelloFrame(version: version));
            Assert.Equal(WireStatus.Ok, answer.Status);
            replies[i] = answer.Payload;
        }

        Assert.Equal((1, 0), (replies[0][4], replies[0][5]));
        Assert.Equal((1, 1), (replies[1][4], replies[1][5]));
        replies[0][5] = 1;
        Assert.Equal(replies[1], replies[0]);
    }

    [Fact]
    public async Task ClientLibrary_Offers1_5_AndIsAnswered1_5()
    {
        await using TcpPair node = await TcpPair.StartPrimaryAsync();
        await using NodeChannel channel = await NodeChannel.ConnectAsync(new Transport.Tcp.TcpTransport(), node.EndPoint, new NodeChannelOptions(null, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2)), _ => { }, CancellationToken.None);
        Assert.Equal(ProtocolVersion.V1_6, channel.Hello.Version);
    }

    [Fact]
    public async Task Get_IsServedOnA1_2Or1_3Connection_AndAnUnknownOpcodeOnA1_1Or1_0Connection()
    {
        await using TcpPair node = await TcpPair.StartPrimaryAsync();
        await node.Client.SetAsync("k", "value"u8.ToArray());
        var request = new KvRequest(0, default, "k"u8, default);
        var payload = new byte[request.Size];
        request.Write(payload);
        foreach (ProtocolVersion version in new[] { ProtocolVersion.V1_3, ProtocolVersion.V1_2, ProtocolVersion.V1_1, ProtocolVersion.V1_0 })
        {
            await using RawSocket raw = await RawSocket.ConnectAsync(node.EndPoint);
            Assert.Equal(WireStatus.Ok, (await Answer.AskAsync(raw, RawSocket.HelloFrame(version: version))).Status);
            Answer answer = await Answer.AskAsync(raw, RawSocket.Frame(Opcode.Get, 7, payload));
            if (version.Minor >= 2)
            {
                Assert.Equal(WireStatus.Ok, answer.Status);
                Assert.Equal(WireStatus.Ok, KvReply.TryReadAddressing(answer.Payload.AsSpan(0, KvReply.Size), out RemotePointer pointer, out _));
                Assert.True(node.Primary.Store.TryLookup("k"u8, out RemotePointer expected, out _));
                Assert.Equal(expected, pointer);
                Assert.Equal("value"u8.ToArray(), answer.Payload[KvReply.Size..]);
            }
            else
            {
                Assert.Equal((WireStatus.UnknownOpcode, false), (answer.Status, answer.Closed));
            }
        }
    }

    [Fact]
    public async Task ClientLibrary_AtA1_0NodeThatRefuses1_1_ConnectsAgainOffering1_0()
    {
        // A node as version 1.0 was: it accepts only 01 00, and answers anything else with ERROR 52 and a close.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var offered = new List<ProtocolVersion>();
        Task<Socket> node = Task.Run(async () =>
        {
            while (true)
            {
                Socket socket = await listener.AcceptSocketAsync();
                byte[] hello = await ReceiveExactlyAsync(socket, FrameHeader.Size + HelloRequest.Size);
                Assert.Equal(WireStatus.Ok, HelloRequest.TryRead(hello.AsSpan(FrameHeader.Size), out HelloRequest request));
                offered.Add(request.Version);
                if (request.Version == ProtocolVersion.V1_0)
                {
                    HelloReply reply = new()
                    {
                        Version = ProtocolVersion.V1_0,
                        Role = NodeRole.Primary,
                        Epoch = 1,
                        Incarnation = 1,
                        SlabSize = 1 << 20,
                        MaxFrameSize = ProtocolLimits.DefaultMaxFrameSize,
                        Regions = [new RegionInfo(0x1234abcd, AccessFlags.RemoteRead, 0x7f00_0000_0000, 16 << 20)],
                    };
                    var payload = new byte[reply.Size];
                    reply.Write(payload);
                    await socket.SendAsync(RawSocket.Frame(Opcode.Hello | Opcode.ReplyBit, BinaryPrimitives.ReadUInt64LittleEndian(hello.AsSpan(8)), payload));
                    return socket;
                }

                byte[] error = RawSocket.Frame(Opcode.Error, 0, Encoding.UTF8.GetBytes("bad magic or protocol version (this node speaks MKV1 version 1)"));
                error[5] = (byte)WireStatus.UnsupportedProtocol;
                await socket.SendAsync(error);
                socket.Dispose();
            }
        });

        await using NodeChannel channel = await NodeChannel.ConnectAsync(new Transport.Tcp.TcpTransport(), (IPEndPoint)listener.LocalEndpoint, new NodeChannelOptions(null, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5)), _ => { }, CancellationToken.None);
        using Socket accepted = await node.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal([ProtocolVersion.V1_6, ProtocolVersion.V1_0], offered);
        Assert.Equal(ProtocolVersion.V1_0, channel.Hello.Version);
        Assert.True(channel.IsHealthy);
    }

    private static async Task<byte[]> ReceiveExactlyAsync(Socket socket, int count)
    {
        var buffer = new byte[count];
        for (int read = 0; read < count;)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None);
            Assert.True(n > 0, "the client closed before its HELLO was whole");
            read += n;
        }

        return buffer;
    }
}
