using System.Net;
using MirrorKv.Adapter;
using MirrorKv.Client;
using MirrorKv.Protocol;
using MirrorKv.Store;
using MirrorKv.Transport;
using MirrorKv.Transport.InProcess;

namespace MirrorKv.Adapter.Tests;

/// <summary>A primary and a secondary on an in-process network, plus clients, for unit tests of the pair.</summary>
internal sealed class PairFixture : IAsyncDisposable
{
    public static readonly IPAddress PrimaryAddress = IPAddress.Parse("127.0.0.11");
    public static readonly IPAddress SecondaryAddress = IPAddress.Parse("127.0.0.12");
    public static readonly IPAddress ClientAddress = IPAddress.Parse("127.0.0.20");

    private readonly List<MirrorKvClient> _clients = [];

    private PairFixture(InProcessNetwork network, MirrorKvNode primary, MirrorKvNode secondary)
    {
        Network = network;
        Primary = primary;
        Secondary = secondary;
    }

    public InProcessNetwork Network { get; }

    public MirrorKvNode Primary { get; }

    public MirrorKvNode Secondary { get; }

    public static StoreOptions SmallStore { get; } = new() { RegionSize = 16UL << 20, SlabSize = 64 << 10 };

    public static async Task<PairFixture> StartAsync(ReplicationMode mode = ReplicationMode.Sync)
    {
        var network = new InProcessNetwork();
        var primaryEndPoint = new IPEndPoint(PrimaryAddress, 7400);
        MirrorKvNode primary = await MirrorKvNode.StartAsync(
            new NodeOptions { Role = NodeRole.Primary, ListenEndPoint = primaryEndPoint, Store = SmallStore, Replication = mode, MaxFrameSize = 1 << 20 },
            network.CreateTransport(PrimaryAddress));
        MirrorKvNode secondary = await MirrorKvNode.StartAsync(
            new NodeOptions { Role = NodeRole.Secondary, ListenEndPoint = new IPEndPoint(SecondaryAddress, 7400), PrimaryEndPoint = primaryEndPoint, Store = SmallStore, MaxFrameSize = 1 << 20 },
            network.CreateTransport(SecondaryAddress));
        return new PairFixture(network, primary, secondary);
    }

    public async Task<MirrorKvClient> ConnectClientAsync(bool rewriteTable = true, TimeSpan? requestTimeout = null)
    {
        MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions
        {
            PrimaryEndPoint = Primary.EndPoint,
            Transport = Network.CreateTransport(ClientAddress),
            RewriteTableOnFailover = rewriteTable,
            RequestTimeout = requestTimeout ?? TimeSpan.FromSeconds(2),
        });
        Assert.True(await client.WaitForSecondaryAsync());
        _clients.Add(client);
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (MirrorKvClient client in _clients)
        {
            await client.DisposeAsync();
        }

        await Secondary.DisposeAsync();
        await Primary.DisposeAsync();
    }
}
