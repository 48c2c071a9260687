using System.Diagnostics;
using System.Net;
using MirrorKv.Adapter;
using MirrorKv.Protocol;
using MirrorKv.Store;
using MirrorKv.Transport.Tcp;
using Microsoft.Extensions.Logging.Abstractions;

namespace MirrorKv.Cli.Simulation;

/// <summary>
/// Real nodes of a cluster, or of one pair, in this process: <see cref="MirrorKvNode"/>s on loopback sockets (the
/// slot mover and the clients reach nodes by TCP), each with a small store. A cluster's nodes claim their pairs' leads
/// in etcd and watch the map as <c>serve --cluster</c> does.
/// </summary>
/// <remarks>
/// Three options differ from the defaults, because here a hundred pairs share two cores with etcd (and whatever else
/// runs), where each would have machines of its own: heartbeats every second rather than every 100 ms (a secondary's
/// read lease follows them: renewed over the peer link 2 times a second rather than 20, from etcd only while the link is
/// down), etcd requests
/// may take 1.5 s rather than 0.5, and the etcd lease lasts 6 s rather than 2 (a primary that cannot renew in time
/// fences itself). None of them changes how a client is redirected; they only change how fast a pair fails over.
/// </remarks>
internal sealed class SimNodes : IAsyncDisposable
{
    private static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(1);

    private readonly List<MirrorKvNode> _primaries = [];
    private readonly List<MirrorKvNode> _secondaries = [];

    private SimNodes(ClusterMap? map, IReadOnlyList<IPEndPoint> endPoints) => (Map, EndPoints) = (map, endPoints);

    /// <summary>The first map (null for a single pair).</summary>
    public ClusterMap? Map { get; }

    /// <summary>Every node's endpoint, primaries first in each pair.</summary>
    public IReadOnlyList<IPEndPoint> EndPoints { get; }

    /// <summary>
    /// Writes an even map of <paramref name="pairs"/> pairs for cluster <paramref name="cluster"/> and starts its
    /// nodes, <paramref name="parallel"/> pairs at a time; returns once every pair is protected.
    /// </summary>
    public static async Task<SimNodes> StartClusterAsync(Uri etcd, string cluster, int pairs, StoreOptions store, int parallel, CancellationToken cancellationToken)
    {
        IPEndPoint[] endPoints = FreeEndPoints(2 * pairs);
        ClusterMap map = ClusterMap.SplitEvenly(cluster, 1, [.. Enumerable.Range(0, pairs).Select(i => new ClusterPair($"p{i + 1}", [new ClusterMember(endPoints[2 * i]), new ClusterMember(endPoints[(2 * i) + 1])]))]);
        using (var directory = new ClusterDirectory([etcd], cluster))
        {
            if (!await directory.TryPublishAsync(map, await directory.ReadAsync(cancellationToken), cancellationToken))
            {
                throw new InvalidOperationException($"cluster {cluster} already has a map in etcd at {etcd}: use another etcd");
            }
        }

        var nodes = new SimNodes(map, endPoints);
        try
        {
            await Parallel.ForAsync(0, pairs, new ParallelOptions { MaxDegreeOfParallelism = parallel, CancellationToken = cancellationToken }, async (i, ct) =>
            {
                var coordinator = new CoordinatorOptions { EndPoints = [etcd], Cluster = cluster, PairName = map.Pairs[i].Id, RequestTimeout = TimeSpan.FromSeconds(1.5), LeaseTtl = TimeSpan.FromSeconds(6) };
                await nodes.StartPairAsync(endPoints[2 * i], endPoints[(2 * i) + 1], store, coordinator, ct);
            });
            return nodes;
        }
        catch
        {
            await nodes.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts one pair on its own (pair mode, no etcd); returns once it is protected.</summary>
    public static async Task<SimNodes> StartPairAsync(StoreOptions store, CancellationToken cancellationToken)
    {
        IPEndPoint[] endPoints = FreeEndPoints(2);
        var nodes = new SimNodes(null, endPoints);
        try
        {
            await nodes.StartPairAsync(endPoints[0], endPoints[1], store, null, cancellationToken);
            return nodes;
        }
        catch
        {
            await nodes.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Secondaries first, so that no secondary takes over from a primary going down.
        foreach (List<MirrorKvNode> nodes in new[] { _secondaries, _primaries })
        {
            MirrorKvNode[] stopping;
            lock (nodes)
            {
                stopping = [.. nodes];
            }

            await Task.WhenAll(stopping.Select(n => n.DisposeAsync().AsTask()));
        }
    }

    // Up to three tries: on a loaded machine a pair's first node may fence itself before its secondary attaches.
    private async Task StartPairAsync(IPEndPoint primary, IPEndPoint secondary, StoreOptions store, CoordinatorOptions? coordinator, CancellationToken cancellationToken)
    {
        var options = new NodeOptions { Store = store, Coordinator = coordinator, HeartbeatInterval = Heartbeat };
        for (int attempt = 1; ; attempt++)
        {
            var started = new List<MirrorKvNode>();
            try
            {
                MirrorKvNode first = await MirrorKvNode.StartAsync(options with { Role = NodeRole.Primary, ListenEndPoint = primary }, Transport(options), NullLoggerFactory.Instance, cancellationToken);
                started.Add(first);
                started.Add(await MirrorKvNode.StartAsync(options with { Role = NodeRole.Secondary, ListenEndPoint = secondary, PrimaryEndPoint = primary }, Transport(options), NullLoggerFactory.Instance, cancellationToken));
                long since = Stopwatch.GetTimestamp();
                while (first is not { Role: NodeRole.Primary, IsProtected: true })
                {
                    if (Stopwatch.GetElapsedTime(since) > TimeSpan.FromSeconds(60))
                    {
                        throw new InvalidOperationException($"the pair of {primary} and {secondary} was not protected within 60 s");
                    }

                    await Task.Delay(20, cancellationToken);
                }

                lock (_primaries)
                {
                    _primaries.Add(started[0]);
                    _secondaries.Add(started[1]);
                }

                return;
            }
            catch (Exception) when (attempt < 3 && !cancellationToken.IsCancellationRequested)
            {
                foreach (MirrorKvNode node in Enumerable.Reverse(started))
                {
                    await node.DisposeAsync();
                }
            }
        }
    }

    private static TcpTransport Transport(NodeOptions options) => new(options.MaxFrameSize);

    // Distinct free loopback endpoints (a free port is found by binding it, so two probes could find the same one).
    private static IPEndPoint[] FreeEndPoints(int count)
    {
        var found = new HashSet<IPEndPoint>();
        while (found.Count < count)
        {
            found.Add(PairLauncher.FreeListenEndPoint());
        }

        return [.. found];
    }
}
