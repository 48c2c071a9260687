using System.Net;
using MirrorKv.Protocol;
using MirrorKv.Transport.Tcp;

namespace MirrorKv.Adapter.Tests.Resp;

/// <summary>A primary (and optionally its secondary) in this process on loopback TCP, each with a RESP port.</summary>
internal sealed class RespNodes : IAsyncDisposable
{
    private readonly List<RespTestClient> _clients = [];

    private RespNodes(MirrorKvNode primary, MirrorKvNode? secondary, System.Collections.Concurrent.ConcurrentQueue<string> lines)
    {
        Lines = lines;
        Primary = primary;
        Secondary = secondary;
    }

    public MirrorKvNode Primary { get; }

    public MirrorKvNode? Secondary { get; }

    public static NodeOptions Options(NodeRole role = NodeRole.Primary) => new()
    {
        Role = role,
        ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
        RespListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
        Store = PairFixture.SmallStore,
        MaxFrameSize = 1 << 20,
    };

    /// <summary>Both nodes' log lines, for a failing test to show.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> Lines { get; }

    public string Log => string.Join("\n", Lines);

    /// <param name="eventLoops">The primary's event loops (the transport's default when null).</param>
    public static async Task<RespNodes> StartAsync(bool withSecondary = false, Func<NodeOptions, NodeOptions>? tweak = null, int? eventLoops = null)
    {
        tweak ??= o => o;
        var lines = new System.Collections.Concurrent.ConcurrentQueue<string>();
        NodeOptions primaryOptions = tweak(Options());
        var transport = eventLoops is { } loops
            ? new TcpTransport(new TcpTransportOptions { MaxFrameSize = primaryOptions.MaxFrameSize, EventLoops = loops })
            : new TcpTransport(primaryOptions.MaxFrameSize);
        MirrorKvNode primary = await MirrorKvNode.StartAsync(primaryOptions, transport, new CapturingLoggerFactory(lines, "P"));
        MirrorKvNode? secondary = null;
        if (withSecondary)
        {
            NodeOptions secondaryOptions = tweak(Options(NodeRole.Secondary)) with { PrimaryEndPoint = primary.EndPoint };
            secondary = await MirrorKvNode.StartAsync(secondaryOptions, new TcpTransport(secondaryOptions.MaxFrameSize), new CapturingLoggerFactory(lines, "S"));
            await Waits.UntilAsync(() => primary.IsProtected && secondary.IsProtected, "the pair to be protected");
        }

        return new RespNodes(primary, secondary, lines);
    }

    /// <summary>A RESP client of <paramref name="node"/> (the primary when null).</summary>
    public async Task<RespTestClient> ConnectAsync(MirrorKvNode? node = null)
    {
        RespTestClient client = await RespTestClient.ConnectAsync((node ?? Primary).RespEndPoint!);
        _clients.Add(client);
        return client;
    }

    /// <summary>A RESP client of <paramref name="node"/>'s sentinel port.</summary>
    public async Task<RespTestClient> ConnectSentinelAsync(MirrorKvNode node)
    {
        RespTestClient client = await RespTestClient.ConnectAsync(node.SentinelEndPoint!);
        _clients.Add(client);
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (RespTestClient client in _clients)
        {
            await client.DisposeAsync();
        }

        if (Secondary is not null)
        {
            await Secondary.DisposeAsync();
        }

        if (!_primaryStopped)
        {
            await Primary.DisposeAsync();
        }
    }

    /// <summary>Stops the primary (its connections close, as after a crash of the process).</summary>
    public async Task StopPrimaryAsync()
    {
        _primaryStopped = true;
        await Primary.DisposeAsync();
    }

    private bool _primaryStopped;
}
