using System.Net;
using MirrorKv.Adapter;
using MirrorKv.Client;
using MirrorKv.Protocol;
using MirrorKv.Store;
using MirrorKv.Transport.Tcp;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// A cluster whose nodes run in this test process (<see cref="MirrorKvNode"/> on loopback sockets) over a real etcd:
/// cheap to fail over many times. A failover stops a pair's primary at once (its connections aborted, nothing more
/// served, as a crash looks to clients) and, once the secondary has taken over, starts a node at the same endpoint as
/// the new primary's secondary, as a supervisor would.
/// </summary>
internal sealed class InProcessCluster : IAsyncDisposable
{
    private static readonly StoreOptions Store = new() { MaxMemory = 16UL << 20, SlabSize = 64 << 10, MaxValueLength = 4096 };

    private readonly Uri _etcd;
    private readonly List<Member[]> _pairs = [];

    /// <summary>Every node's log lines (prefixed with its pair and port), to show when a wait fails.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> Lines { get; } = new();

    private InProcessCluster(Uri etcd, string name) => (_etcd, Name) = (etcd, name);

    public string Name { get; }

    public ClusterMap Map { get; private set; } = null!;

    public int PairCount => _pairs.Count;

    public IEnumerable<EndPoint> EndPoints => _pairs.SelectMany(p => p.Select(m => (EndPoint)m.EndPoint));

    public static async Task<InProcessCluster> StartAsync(Uri etcd, string name, int pairs)
    {
        var cluster = new InProcessCluster(etcd, name);
        try
        {
            var endPoints = Enumerable.Range(1, pairs).Select(i => ($"p{i}", Ports.FreeEndPoint(), Ports.FreeEndPoint())).ToList();
            cluster.Map = ClusterMap.SplitEvenly(name, 1, [.. endPoints.Select(p => new ClusterPair(p.Item1, [new ClusterMember(p.Item2), new ClusterMember(p.Item3)]))]);
            using (ClusterDirectory directory = cluster.Directory())
            {
                Assert.True(await directory.TryPublishAsync(cluster.Map, await directory.ReadAsync()));
            }

            foreach ((string id, IPEndPoint primaryAt, IPEndPoint secondaryAt) in endPoints)
            {
                Member[] pair = [new Member(id, primaryAt), new Member(id, secondaryAt)];
                cluster._pairs.Add(pair);
                pair[0].Node = await cluster.StartNodeAsync(id, primaryAt, primary: null);
                pair[1].Node = await cluster.StartNodeAsync(id, secondaryAt, primary: primaryAt);
            }

            foreach (Member[] pair in cluster._pairs)
            {
                await Waits.UntilAsync(() => pair[0].Node is { Role: NodeRole.Primary, IsProtected: true }, $"pair {pair[0].PairId} to be protected");
            }

            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public ClusterDirectory Directory() => new([_etcd], Name);

    public string PairId(int pair) => _pairs[pair][0].PairId;

    /// <summary>
    /// Stops pair <paramref name="pair"/>'s primary at once, waits until its secondary serves as primary, and starts a
    /// node in its place as that primary's secondary; returns once the pair is protected again.
    /// </summary>
    public async Task FailOverAsync(int pair)
    {
        Member[] members = _pairs[pair];

        // One fault at a time: a primary that dropped a stalled secondary is not protected, and its secondary rightly
        // refuses to take over from it (it may have acknowledged writes alone); wait until the pair is whole again.
        await Waits.UntilAsync(() => members.Any(m => m.Node is { Role: NodeRole.Primary, IsProtected: true }), $"pair {members[0].PairId} to be protected before its primary is stopped", 60, Context);
        int victim = members[0].Node is { Role: NodeRole.Primary } ? 0 : 1;
        Member dead = members[victim], heir = members[1 - victim];
        ulong epoch = dead.Node!.Epoch;
        await dead.Node.DisposeAsync();
        dead.Node = null;
        await Waits.UntilAsync(() => heir.Node is { Role: NodeRole.Primary } node && node.Epoch > epoch, $"pair {heir.PairId}'s secondary to take over", 30, Context);
        dead.Node = await StartNodeAsync(dead.PairId, dead.EndPoint, heir.EndPoint);
        await Waits.UntilAsync(() => heir.Node is { Role: NodeRole.Primary, IsProtected: true } && dead.Node is { Role: NodeRole.Secondary, IsProtected: true }, $"pair {heir.PairId} to be protected again", 60, Context);
    }

    /// <summary>Waits until every pair is protected (after the failovers a run started).</summary>
    public async Task WaitAllProtectedAsync()
    {
        foreach (Member[] pair in _pairs)
        {
            await Waits.UntilAsync(() => pair.Any(m => m.Node is { Role: NodeRole.Primary, IsProtected: true }), $"pair {pair[0].PairId} to be protected", 60, Context);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (Member member in _pairs.SelectMany(p => p.Reverse()))
        {
            if (member.Node is { } node)
            {
                await node.DisposeAsync();
            }
        }
    }

    private Task<MirrorKvNode> StartNodeAsync(string pairId, IPEndPoint at, IPEndPoint? primary)
    {
        var options = new NodeOptions
        {
            Role = primary is null ? NodeRole.Primary : NodeRole.Secondary,
            ListenEndPoint = at,
            PrimaryEndPoint = primary,
            Store = Store,
            Coordinator = new CoordinatorOptions { EndPoints = [_etcd], Cluster = Name, PairName = pairId },
        };
        return MirrorKvNode.StartAsync(options, new TcpTransport(options.MaxFrameSize), new CapturingLoggerFactory(Lines, $"{pairId}@{at.Port}"));
    }

    /// <summary>The last lines the nodes logged.</summary>
    public string Context() => string.Join("\n", Lines.TakeLast(80));

    private sealed class Member(string pairId, IPEndPoint endPoint)
    {
        public string PairId => pairId;

        public IPEndPoint EndPoint => endPoint;

        public MirrorKvNode? Node { get; set; }
    }
}
