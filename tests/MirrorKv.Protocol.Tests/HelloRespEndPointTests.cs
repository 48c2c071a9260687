using System.Net;

namespace MirrorKv.Protocol.Tests;

/// <summary>
/// 1.1 peers tell each other their RESP endpoints in the handshake (the sentinel answers and ROLE name them):
/// a peer HELLO carries it after the advertised endpoint, and the reply to such a HELLO ends with the node's.
/// Clients' HELLOs and replies keep their 1.0 layout.
/// </summary>
public class HelloRespEndPointTests
{
    private static readonly IPEndPoint Resp = new(IPAddress.Parse("10.0.0.2"), 6380);

    [Fact]
    public void PeerHello_CarriesTheRespEndpoint_OnlyFrom11On()
    {
        var peer = new HelloRequest(PeerKind.Peer, 1 << 20, new IPEndPoint(IPAddress.Loopback, 7401)) { RespEndPoint = Resp };
        Assert.Equal(HelloRequest.Size + WireEndPoint.Size, peer.EncodedSize);
        var bytes = new byte[peer.EncodedSize];
        Assert.Equal(bytes.Length, peer.Write(bytes));
        Assert.Equal(WireStatus.Ok, HelloRequest.TryRead(bytes, out HelloRequest decoded));
        Assert.Equal(Resp, decoded.RespEndPoint);

        // "None" when the peer serves no RESP: still 52 bytes, decoded as null.
        var noResp = peer with { RespEndPoint = null };
        bytes = new byte[noResp.EncodedSize];
        noResp.Write(bytes);
        Assert.Equal(WireStatus.Ok, HelloRequest.TryRead(bytes, out decoded));
        Assert.Null(decoded.RespEndPoint);

        // A 1.0 peer and any client send 32 bytes, whatever RespEndPoint says.
        Assert.Equal(HelloRequest.Size, (peer with { Version = ProtocolVersion.V1_0 }).EncodedSize);
        Assert.Equal(HelloRequest.Size, new HelloRequest(PeerKind.Client, 1 << 20) { RespEndPoint = Resp }.EncodedSize);

        // A client's HELLO with 20 bytes too many is malformed: only a 1.1 peer's may carry them.
        var client = new byte[HelloRequest.Size + WireEndPoint.Size];
        new HelloRequest(PeerKind.Client, 1 << 20).Write(client);
        Assert.Equal(WireStatus.MalformedFrame, HelloRequest.TryRead(client, out _));
    }

    [Fact]
    public void HelloReply_EndsWithTheRespEndPoint_OnlyWhenAsked()
    {
        var reply = new HelloReply
        {
            Role = NodeRole.Primary,
            Epoch = 3,
            Incarnation = 9,
            SlabSize = 1 << 20,
            MaxFrameSize = 1 << 20,
            Regions = [new RegionInfo(7, Memory.AccessFlags.RemoteRead, 0x1000, 1 << 24)],
        };
        var plain = new byte[reply.Size];
        reply.Write(plain);
        Assert.Equal(WireStatus.Ok, HelloReply.TryRead(plain, out HelloReply? decoded));
        Assert.False(decoded!.HasRespEndPoint);

        HelloReply toPeer = reply with { HasRespEndPoint = true, RespEndPoint = Resp };
        Assert.Equal(plain.Length + WireEndPoint.Size, toPeer.Size);
        var bytes = new byte[toPeer.Size];
        toPeer.Write(bytes);
        Assert.Equal(WireStatus.Ok, HelloReply.TryRead(bytes, out decoded));
        Assert.True(decoded!.HasRespEndPoint);
        Assert.Equal(Resp, decoded.RespEndPoint);
        Assert.Equal(WireStatus.MalformedFrame, HelloReply.TryRead(bytes.AsSpan(0, bytes.Length - 1), out _));
    }
}
