using System.Net;
using MirrorKv.Adapter;
using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// A real cluster: a real etcd, the map written into it first (slots split evenly), and N pairs of real
/// <c>serve --cluster --pair</c> processes (primary and protected secondary each); stopped in reverse order.
/// </summary>
internal sealed class ProcessCluster : IAsyncDisposable
{
    private ProcessCluster(EtcdProcess etcd, string name) => (Etcd, Name) = (etcd, name);

    public EtcdProcess Etcd { get; }

    public string Name { get; }

    public ClusterMap Map { get; private set; } = null!;

    /// <summary>Per pair, in map order: its primary and its secondary as started.</summary>
    public List<(string Id, NodeProcess Primary, NodeProcess Secondary)> Pairs { get; } = [];

    public IEnumerable<NodeProcess> Nodes => Pairs.SelectMany(p => new[] { p.Primary, p.Secondary });

    /// <summary>Pairs started besides, not in the map (ids after the map's): for add-pair.</summary>
    public List<(string Id, NodeProcess Primary, NodeProcess Secondary)> Spares { get; } = [];

    /// <summary>Per pair, in map order: the RESP endpoints of its primary and secondary (when started with RESP).</summary>
    public List<(IPEndPoint Primary, IPEndPoint Secondary)> RespEndPoints { get; } = [];

    /// <param name="pairs">How many pairs.</param>
    /// <param name="resp">Whether every node serves RESP too (<c>--resp-listen</c>), with its RESP endpoint in the map.</param>
    /// <param name="spares">Pairs to start besides, in no map (<see cref="Spares"/>).</param>
    /// <param name="nodeArgs">More <c>serve</c> arguments for the nodes of the pair named (e.g. a smaller <c>--max-memory</c>).</param>
    public static async Task<ProcessCluster> StartAsync(int pairs = 3, bool resp = false, int spares = 0, Func<string, string[]>? nodeArgs = null)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await StartOnceAsync(pairs, resp, spares, nodeArgs ?? (_ => []));
            }
            catch (InvalidOperationException e) when (attempt < 3 && e.Message.Contains("Address already in use", StringComparison.Ordinal))
            {
                // Every port is chosen free before the first node starts, and the nodes start one after the other over
                // seconds: another process (an outgoing connection's ephemeral port) took one meanwhile. Choose again.
            }
        }
    }

    private static async Task<ProcessCluster> StartOnceAsync(int pairs, bool resp, int spares, Func<string, string[]> nodeArgs)
    {
        EtcdProcess etcd = await EtcdProcess.StartAsync();
        var cluster = new ProcessCluster(etcd, "test");
        try
        {
            var endPoints = Enumerable.Range(1, pairs).Select(i => ($"p{i}", Ports.FreeEndPoint(), Ports.FreeEndPoint())).ToList();
            if (resp)
            {
                cluster.RespEndPoints.AddRange(endPoints.Select(_ => (Ports.FreeEndPoint(), Ports.FreeEndPoint())));
            }

            IPEndPoint? RespOf(int pair, bool primary) => resp ? primary ? cluster.RespEndPoints[pair].Primary : cluster.RespEndPoints[pair].Secondary : null;
            cluster.Map = ClusterMap.SplitEvenly(cluster.Name, 1, [.. endPoints.Select((p, i) => new ClusterPair(p.Item1, [new ClusterMember(p.Item2, RespOf(i, true)), new ClusterMember(p.Item3, RespOf(i, false))]))]);
            using (ClusterDirectory directory = cluster.Directory())
            {
                Assert.True(await directory.TryPublishAsync(cluster.Map, await directory.ReadAsync()));
            }

            // One node after the other: six processes starting at once on a loaded machine can keep a node's first
            // etcd request past the coordinator's 500 ms request timeout, and a node gives up when etcd does not
            // answer at start.
            for (int i = 0; i < endPoints.Count; i++)
            {
                (string id, IPEndPoint primaryAt, IPEndPoint secondaryAt) = endPoints[i];
                string[] primaryResp = resp ? ["--resp-listen", RespOf(i, true)!.ToString()] : [];
                string[] secondaryResp = resp ? ["--resp-listen", RespOf(i, false)!.ToString()] : [];
                NodeProcess primary = await NodeProcess.StartAsync(["--role", "primary", .. cluster.Args(id), .. primaryResp, .. nodeArgs(id)], primaryAt);
                try
                {
                    cluster.Pairs.Add((id, primary, await NodeProcess.StartAsync(["--role", "secondary", "--primary", primary.EndPoint.ToString(), .. cluster.Args(id), .. secondaryResp, .. nodeArgs(id)], secondaryAt)));
                }
                catch
                {
                    await primary.DisposeAsync();
                    throw;
                }
            }

            for (int i = pairs + 1; i <= pairs + spares; i++)
            {
                NodeProcess primary = await NodeProcess.StartAsync(["--role", "primary", .. cluster.Args($"p{i}"), .. nodeArgs($"p{i}")]);
                try
                {
                    cluster.Spares.Add(($"p{i}", primary, await NodeProcess.StartAsync(["--role", "secondary", "--primary", primary.EndPoint.ToString(), .. cluster.Args($"p{i}"), .. nodeArgs($"p{i}")])));
                }
                catch
                {
                    await primary.DisposeAsync();
                    throw;
                }
            }

            foreach ((_, NodeProcess primary, _) in cluster.Pairs.Concat(cluster.Spares))
            {
                await primary.WaitProtectedAsync();
            }

            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public ClusterDirectory Directory() => new([Etcd.Url], Name);

    public string[] Args(string pairId) => ["--coordinator", Etcd.Url.ToString(), "--cluster", Name, "--pair", pairId];

    public MirrorKvClientOptions ClientOptions(params NodeProcess[] through) =>
        new() { EndPoints = [.. (through.Length == 0 ? Nodes.Take(1) : through).Select(n => (EndPoint)n.EndPoint)] };

    /// <summary>A key whose slot pair <paramref name="pairId"/> owns by <paramref name="map"/> (this cluster's first map by default).</summary>
    public string KeyOf(string pairId, int n, string prefix = "k", ClusterMap? map = null)
    {
        ClusterMap m = map ?? Map;
        for (int i = 0; ; i++)
        {
            string key = $"{prefix}-{n}-{i}";
            if (m.Owner(HashSlot.Of(key)).Id == pairId)
            {
                return key;
            }
        }
    }

    /// <summary>Writes <paramref name="next"/> as the next map and waits until every live node serves it.</summary>
    public async Task PublishAsync(ClusterMap next)
    {
        using (ClusterDirectory directory = Directory())
        {
            Assert.True(await directory.TryPublishAsync(next, await directory.ReadAsync()));
        }

        foreach (NodeProcess node in Nodes.Where(n => !n.HasExited))
        {
            await Waits.UntilAsync(async () => (await MirrorKvAdmin.GetClusterMapAsync(node.EndPoint))!.Version == next.Version, $"{node.EndPoint} to serve map version {next.Version}");
        }
    }

    /// <summary>Runs <c>mirrorkv cluster ARGS --etcd URL --name NAME</c> against this cluster, as an operator does.</summary>
    public CliProcess Cluster(params string[] args) => CliProcess.Start(["cluster", .. args, "--etcd", Etcd.Url.ToString(), "--name", Name]);

    public async ValueTask DisposeAsync()
    {
        foreach ((_, NodeProcess primary, NodeProcess secondary) in Pairs.Concat(Spares))
        {
            await secondary.DisposeAsync();
            await primary.DisposeAsync();
        }

        await Etcd.DisposeAsync();
    }
}
