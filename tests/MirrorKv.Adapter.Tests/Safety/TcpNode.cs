using System.Net;
using MirrorKv.Client;
using MirrorKv.Protocol;
using MirrorKv.Transport.Tcp;

namespace MirrorKv.Adapter.Tests.Safety;

/// <summary>A primary on a real loopback TCP port, with guard timeouts short enough for tests, and a well-behaved client.</summary>
internal sealed class TcpNode : IAsyncDisposable
{
    private TcpNode(MirrorKvNode node, MirrorKvClient client)
    {
        Node = node;
        Client = client;
    }

    public MirrorKvNode Node { get; }

    /// <summary>Connected before any bad traffic starts; must keep working throughout.</summary>
    public MirrorKvClient Client { get; }

    public IPEndPoint EndPoint => Node.EndPoint;

    public static NodeOptions Options => new()
    {
        Role = NodeRole.Primary,
        ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
        // One region of 16 MiB up front: the raw-socket tests aim at addresses inside and around "the" region.
        Store = PairFixture.SmallStore with { FirstChunkSize = 16UL << 20 },
        MaxFrameSize = 1 << 20,
        HandshakeTimeout = TimeSpan.FromMilliseconds(400),
        FrameTimeout = TimeSpan.FromMilliseconds(400),
        UnreadRepliesTimeout = TimeSpan.FromMilliseconds(800),
        SendQueueLimit = 256 * 1024,
    };

    public static async Task<TcpNode> StartAsync(NodeOptions? options = null, byte[]? clientSecret = null)
    {
        MirrorKvNode node = await MirrorKvNode.StartAsync(options ?? Options, new TcpTransport((options ?? Options).MaxFrameSize));
        MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [node.EndPoint], Secret = clientSecret ?? (options ?? Options).Secret });
        return new TcpNode(node, client);
    }

    /// <summary>Writes and reads back a fresh key: the node still serves well-behaved clients.</summary>
    public async Task AssertServesAsync(string key)
    {
        byte[] value = System.Text.Encoding.UTF8.GetBytes($"value of {key}");
        await Client.SetAsync(key, value);
        Assert.Equal(value, await Client.GetAsync(key));
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Node.DisposeAsync();
    }
}
