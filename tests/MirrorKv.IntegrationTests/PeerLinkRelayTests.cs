using System.Net;
using System.Net.Sockets;
using System.Text;
using MirrorKv.Cli.Chaos;
using MirrorKv.Protocol;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// The relay chaos puts in front of each node for its cut-link fault, against plain sockets: a cut holds the
/// peer adapter's connections (open, no reset, nothing crosses) and passes the clients', and the restore
/// delivers what was held. A relay that cut everything, nothing, or reset the link fails here.
/// </summary>
public sealed class PeerLinkRelayTests : IAsyncLifetime
{
    private readonly TcpListener _node = new(IPAddress.Loopback, 0);
    private PeerLinkRelay _relay = null!;

    public ValueTask InitializeAsync()
    {
        _node.Start();
        _relay = new PeerLinkRelay((IPEndPoint)_node.LocalEndpoint);
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _relay.DisposeAsync();
        _node.Dispose();
    }

    [Fact]
    public async Task Cut_BothWays_HoldsThePeerConnection_PassesTheClient_AndTheRestoreDeliversWhatWasHeld()
    {
        (Socket peer, Socket peerAtNode) = await ConnectAsync(PeerKind.Peer);
        (Socket client, Socket clientAtNode) = await ConnectAsync(PeerKind.Client);
        using (peer)
        using (peerAtNode)
        using (client)
        using (clientAtNode)
        {
            _relay.Cut(LinkDirections.Both);
            await SendAsync(peer, "heartbeat to the node");
            await SendAsync(peerAtNode, "heartbeat from the node");
            await SendAsync(client, "read");
            await SendAsync(clientAtNode, "value");

            Assert.Equal("read", await ReceiveAsync(clientAtNode, 4));
            Assert.Equal("value", await ReceiveAsync(client, 5));
            int held = "heartbeat to the node".Length + "heartbeat from the node".Length;
            await Waits.UntilAsync(() => _relay.HeldBytes == held, $"the relay to hold the peer's {held} bytes (holds {_relay.HeldBytes})");
            Assert.Equal(0, peerAtNode.Available);
            Assert.Equal(0, peer.Available);

            // A black hole, not a reset: the peer's side stays open and can go on sending.
            await SendAsync(peer, "!");
            Assert.True(peer.Connected && peerAtNode.Connected);

            _relay.Restore();
            Assert.Equal("heartbeat to the node!", await ReceiveAsync(peerAtNode, "heartbeat to the node!".Length));
            Assert.Equal("heartbeat from the node", await ReceiveAsync(peer, "heartbeat from the node".Length));
            Assert.Equal((1, 1), (_relay.PeerConnections, _relay.ClientConnections));
        }
    }

    [Fact]
    public async Task Cut_FromNodeOnly_HoldsTheNodesBytes_AndPassesThePeers()
    {
        (Socket peer, Socket peerAtNode) = await ConnectAsync(PeerKind.Peer);
        using (peer)
        using (peerAtNode)
        {
            _relay.Cut(LinkDirections.FromNode);
            await SendAsync(peerAtNode, "announcement");
            await SendAsync(peer, "echo");

            Assert.Equal("echo", await ReceiveAsync(peerAtNode, 4));
            await Waits.UntilAsync(() => _relay.HeldBytes == "announcement".Length, "the relay to hold the node's bytes");
            Assert.Equal(0, peer.Available);

            _relay.Restore();
            Assert.Equal("announcement", await ReceiveAsync(peer, "announcement".Length));
        }
    }

    [Fact]
    public async Task NodeReset_ReachesThePeerAsAReset()
    {
        (Socket peer, Socket peerAtNode) = await ConnectAsync(PeerKind.Peer);
        using (peer)
        {
            // What the kernel does for a killed process with unread data: RST.
            await SendAsync(peer, "unread");
            await Waits.UntilAsync(() => peerAtNode.Available > 0, "the node to have unread bytes");
            peerAtNode.LingerState = new LingerOption(true, 0);
            peerAtNode.Dispose();

            SocketException reset = await Assert.ThrowsAsync<SocketException>(async () =>
            {
                byte[] buffer = new byte[16];
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                while (await peer.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) > 0)
                {
                }
            });
            Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
        }
    }

    // A connection through the relay that has sent its HELLO, and the node's end of it (HELLO read).
    private async Task<(Socket Dialler, Socket AtNode)> ConnectAsync(PeerKind kind)
    {
        var dialler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await dialler.ConnectAsync(_relay.EndPoint);
        var request = new HelloRequest(kind, ProtocolLimits.DefaultMaxFrameSize, kind == PeerKind.Peer ? new IPEndPoint(IPAddress.Loopback, 7401) : null);
        byte[] hello = new byte[FrameHeader.Size + request.EncodedSize];
        new FrameHeader((uint)hello.Length, Opcode.Hello, WireStatus.Ok, 1).Write(hello);
        request.Write(hello.AsSpan(FrameHeader.Size));
        await dialler.SendAsync(hello, SocketFlags.None);
        Socket atNode = await _node.AcceptSocketAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(hello, await ReceiveBytesAsync(atNode, hello.Length));
        return (dialler, atNode);
    }

    private static async Task SendAsync(Socket socket, string text) => await socket.SendAsync(Encoding.ASCII.GetBytes(text), SocketFlags.None);

    private static async Task<string> ReceiveAsync(Socket socket, int length) => Encoding.ASCII.GetString(await ReceiveBytesAsync(socket, length));

    private static async Task<byte[]> ReceiveBytesAsync(Socket socket, int length)
    {
        byte[] buffer = new byte[length];
        int have = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (have < length)
        {
            int received = await socket.ReceiveAsync(buffer.AsMemory(have), SocketFlags.None, timeout.Token);
            Assert.True(received > 0, $"closed after {have} of {length} bytes");
            have += received;
        }

        return buffer;
    }
}
