using System.Diagnostics;
using System.Net;
using MirrorKv.Adapter;
using MirrorKv.Client;
using MirrorKv.Protocol;
using MirrorKv.Store;
using MirrorKv.Transport.InProcess;

namespace MirrorKv.Testing;

/// <summary>A primary and a secondary on an in-process network, plus clients, for unit tests of the pair.</summary>
public sealed class PairFixture : IAsyncDisposable
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

    /// <summary>Names a network for helpers that need one without a whole pair.</summary>
    public sealed record Handle(InProcessNetwork Network);

    public MirrorKvNode Primary { get; }

    public MirrorKvNode Secondary { get; }

    public static StoreOptions SmallStore { get; } = new() { MaxMemory = 16UL << 20, SlabSize = 64 << 10 };

    public static async Task<PairFixture> StartAsync(ReplicationMode mode = ReplicationMode.Sync, StoreOptions? store = null)
    {
        var network = new InProcessNetwork();
        MirrorKvNode primary = await StartPrimaryAsync(network, mode, store);
        MirrorKvNode secondary = await StartSecondaryAsync(network, SecondaryAddress, primary.EndPoint, store, mode);
        await Waits.UntilAsync(() => primary.IsProtected && secondary.IsProtected, "the in-process pair to be protected");
        return new PairFixture(network, primary, secondary);
    }

    public static Task<MirrorKvNode> StartPrimaryAsync(InProcessNetwork network, ReplicationMode mode = ReplicationMode.Sync, StoreOptions? store = null) =>
        MirrorKvNode.StartAsync(
            new NodeOptions { Role = NodeRole.Primary, ListenEndPoint = new IPEndPoint(PrimaryAddress, 7400), Store = store ?? SmallStore, Replication = mode, MaxFrameSize = 1 << 20, TimeProvider = network.TimeFor(PrimaryAddress) },
            network.CreateTransport(PrimaryAddress));

    public static Task<MirrorKvNode> StartSecondaryAsync(InProcessNetwork network, IPAddress address, IPEndPoint primary, StoreOptions? store = null, ReplicationMode mode = ReplicationMode.Sync) =>
        MirrorKvNode.StartAsync(
            new NodeOptions { Role = NodeRole.Secondary, ListenEndPoint = new IPEndPoint(address, 7400), PrimaryEndPoint = primary, Store = store ?? SmallStore, Replication = mode, MaxFrameSize = 1 << 20, TimeProvider = network.TimeFor(address) },
            network.CreateTransport(address));

    /// <summary>
    /// Writes through <paramref name="client"/>, one acknowledged write after another, until <paramref name="span"/>
    /// has passed: a stretch of time the nodes provably served throughout (a sleep can pass on a loaded machine
    /// without their threads running at all), for tests that check that something does not happen within it.
    /// </summary>
    public static async Task<int> WriteThroughAsync(MirrorKvClient client, TimeSpan span, string key = "write-through")
    {
        var clock = Stopwatch.StartNew();
        int writes = 0;
        do
        {
            await Waits.ForAsync(client.SetAsync(key, BitConverter.GetBytes(writes)).AsTask(), $"write {writes} of the stretch to be acknowledged", seconds: 5);
            writes++;

            // A few writes per heartbeat interval: enough to cover the span, not so many that they take the cores.
            await Task.Delay(20);
        }
        while (clock.Elapsed < span);

        return writes;
    }

    public async Task<MirrorKvClient> ConnectClientAsync(bool rewriteTable = true, TimeSpan? requestTimeout = null, Microsoft.Extensions.Logging.ILoggerFactory? loggers = null, bool completeOnReceiveThread = false, ReadFrom readFrom = ReadFrom.PreferPrimary)
    {
        MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions
        {
            EndPoints = [Primary.EndPoint],
            Transport = Network.CreateTransport(ClientAddress),
            RewriteTableOnFailover = rewriteTable,
            RequestTimeout = requestTimeout ?? TimeSpan.FromSeconds(2),
            LoggerFactory = loggers,
            CompleteOnReceiveThread = completeOnReceiveThread,
            ReadFrom = readFrom,
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
