using System.Buffers.Binary;
using MirrorKv.Adapter.Tests.Safety;
using MirrorKv.Client;
using MirrorKv.Protocol;
using MirrorKv.Protocol.Tests;

namespace MirrorKv.Adapter.Tests.Conformance;

/// <summary>docs/protocol.md, "Versions", against a running node: what it answers to each version offered.</summary>
public class VersionTests
{
    [Fact]
    public async Task Node_AnswersEachOfferedVersion_AsTheTableSays()
    {
        await using TcpNode node = await TcpNode.StartAsync();
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
        await using TcpNode node = await TcpNode.StartAsync();
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
    public async Task ClientLibrary_Offers1_1_AndIsAnswered1_1()
    {
        await using TcpNode node = await TcpNode.StartAsync();
        await using NodeChannel channel = await NodeChannel.ConnectAsync(new Transport.Tcp.TcpTransport(), node.EndPoint, new NodeChannelOptions(null, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2)), _ => { }, CancellationToken.None);
        Assert.Equal(ProtocolVersion.V1_1, channel.Hello.Version);
    }
}
