using System.Net;
using MirrorKv.Adapter;
using MirrorKv.Protocol;
using MirrorKv.Store;
using MirrorKv.Transport.Tcp;

namespace MirrorKv.Extensions.Caching.Tests;

/// <summary>A primary and a secondary on real loopback sockets, reaping expired entries every 20 ms.</summary>
internal sealed class TcpPair : IAsyncDisposable
{
    private TcpPair(MirrorKvNode primary, MirrorKvNode secondary)
    {
        Primary = primary;
        Secondary = secondary;
    }

    public MirrorKvNode Primary { get; private set; }

    public MirrorKvNode? Secondary { get; private set; }

    public static async Task<TcpPair> StartAsync(byte[]? secret = null)
    {
        var options = new NodeOptions
        {
            Secret = secret,
            ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            Store = new StoreOptions { MaxMemory = 16UL << 20, SlabSize = 64 << 10 },
            MaxFrameSize = 1 << 20,
            ExpiryReapInterval = TimeSpan.FromMilliseconds(20),
        };
        MirrorKvNode primary = await MirrorKvNode.StartAsync(options, new TcpTransport());
        MirrorKvNode secondary = await MirrorKvNode.StartAsync(options with { Role = NodeRole.Secondary, PrimaryEndPoint = primary.EndPoint }, new TcpTransport());
        await WaitUntilAsync(() => primary.IsProtected);
        return new TcpPair(primary, secondary);
    }

    public static async Task WaitUntilAsync(Func<bool> condition, double seconds = 5)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.True(condition(), "condition not met in time");
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
        await StopSecondaryAsync();
        await Primary.DisposeAsync();
    }
}
