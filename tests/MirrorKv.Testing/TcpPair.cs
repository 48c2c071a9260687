using System.Net;
using MirrorKv.Adapter;
using MirrorKv.Client;
using MirrorKv.Protocol;
using MirrorKv.Transport.Tcp;

namespace MirrorKv.Testing;

/// <summary>
/// Nodes on real loopback sockets: a primary alone with a well-behaved client (<see cref="StartPrimaryAsync"/>,
/// what raw-socket tests aim at), or a protected primary and secondary (<see cref="StartAsync"/>).
/// </summary>
public sealed class TcpPair : IAsyncDisposable
{
    private readonly MirrorKvClient? _client;

    private TcpPair(MirrorKvNode primary, MirrorKvNode? secondary, MirrorKvClient? client)
    {
        Primary = primary;
        Secondary = secondary;
        _client = client;
    }

    /// <summary>
    /// Guard timeouts short enough that a test of a stuck or slow peer ends in a second, expired entries reaped
    /// every 20 ms, and one region of 16 MiB up front: raw-socket tests aim at addresses inside and around "the" region.
    /// </summary>
    public static NodeOptions Options => new()
    {
        Role = NodeRole.Primary,
        ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
        Store = PairFixture.SmallStore with { FirstChunkSize = 16UL << 20 },
        MaxFrameSize = 1 << 20,
        HandshakeTimeout = TimeSpan.FromMilliseconds(400),
        FrameTimeout = TimeSpan.FromMilliseconds(400),
        UnreadRepliesTimeout = TimeSpan.FromMilliseconds(800),
        SendQueueLimit = 256 * 1024,
        ExpiryReapInterval = TimeSpan.FromMilliseconds(20),
    };

    public MirrorKvNode Primary { get; }

    /// <summary>Null for a primary alone, or once stopped.</summary>
    public MirrorKvNode? Secondary { get; private set; }

    public IPEndPoint EndPoint => Primary.EndPoint;

    /// <summary>The primary's well-behaved client, connected before any test traffic starts; it must keep working throughout.</summary>
    public MirrorKvClient Client => _client ?? throw new InvalidOperationException("only StartPrimaryAsync connects a client");

    /// <summary>A primary alone, with <see cref="Client"/> connected (with <paramref name="clientSecret"/>, or the node's own secret).</summary>
    public static async Task<TcpPair> StartPrimaryAsync(NodeOptions? options = null, byte[]? clientSecret = null)
    {
        options ??= Options;
        MirrorKvNode primary = await MirrorKvNode.StartAsync(options, new TcpTransport(options.MaxFrameSize));
        MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [primary.EndPoint], Secret = clientSecret ?? options.Secret });
        return new TcpPair(primary, null, client);
    }

    /// <summary>
    /// <see cref="Options"/> with the node's default guard timeouts: a pair that well-behaved clients use (the cache
    /// tests) must not close a handshake that a loaded host delays past 400 ms.
    /// </summary>
    public static NodeOptions PairOptions
    {
        get
        {
            var defaults = new NodeOptions();
            return Options with { HandshakeTimeout = defaults.HandshakeTimeout, FrameTimeout = defaults.FrameTimeout, UnreadRepliesTimeout = defaults.UnreadRepliesTimeout };
        }
    }

    /// <summary>A primary and its secondary, returned once both say the pair is protected; no client (the test brings its own).</summary>
    public static async Task<TcpPair> StartAsync(NodeOptions? options = null)
    {
        options ??= PairOptions;
        MirrorKvNode primary = await MirrorKvNode.StartAsync(options, new TcpTransport(options.MaxFrameSize));
        MirrorKvNode secondary = await MirrorKvNode.StartAsync(options with { Role = NodeRole.Secondary, PrimaryEndPoint = primary.EndPoint }, new TcpTransport(options.MaxFrameSize));
        // The primary's word is the one that matters to clients (it acknowledges writes only once the secondary has
        // them); the cache tests' fixture waited for it alone, and waiting for both flags at one poll timed out at
        // 15 s in loaded runs of the whole project.
        await Waits.UntilAsync(() => primary.IsProtected, "the TCP pair's primary to say it is protected");
        return new TcpPair(primary, secondary, null);
    }

    /// <summary>Writes and reads back a fresh key through <see cref="Client"/>: the node still serves well-behaved clients.</summary>
    public async Task AssertServesAsync(string key)
    {
        byte[] value = System.Text.Encoding.UTF8.GetBytes($"value of {key}");
        await Client.SetAsync(key, value);
        Assert.Equal(value, await Client.GetAsync(key));
    }

    public async Task StopSecondaryAsync()
    {
        if (Secondary is { } secondary)
        {
            Secondary = null;
            await secondary.DisposeAsync();
        }
    }

    public async Task StopPrimaryAsync() => await Primary.DisposeAsync();

    public async ValueTask DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.DisposeAsync();
        }

        await StopSecondaryAsync();
        await Primary.DisposeAsync();
    }
}
