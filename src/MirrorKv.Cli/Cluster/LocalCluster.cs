using System.Globalization;
using System.Net;
using MirrorKv.Adapter;
using MirrorKv.Cli.Chaos;
using MirrorKv.Protocol;
using static MirrorKv.Cli.PairLauncher;

namespace MirrorKv.Cli.Cluster;

/// <summary>
/// A cluster on loopback for development, as <c>cluster up</c> and <c>demo --cluster</c> run one: an etcd (the one on
/// PATH, started here, or a running one), the map of a new cluster written into it (slots split evenly), and N pairs
/// of child <c>serve --cluster --pair</c> processes, each node serving RESP too; spare pairs besides, in no map.
/// Disposing stops every process it started. No secret: the nodes listen on loopback only.
/// </summary>
internal sealed class LocalCluster : IAsyncDisposable
{
    private readonly List<TextWriter> _logs = [];
    private readonly string? _nodeLogs;
    private readonly TextWriter _output;
    private LocalEtcd? _etcd;

    private readonly string[] _nodeArgs;

    private LocalCluster(string name, string regionSize, string? nodeLogs, IReadOnlyList<string>? nodeArgs, TextWriter output)
    {
        Name = name;
        RegionSize = regionSize;
        _nodeLogs = nodeLogs;
        _nodeArgs = [.. nodeArgs ?? []];
        _output = output;
    }

    public string Name { get; }

    public string RegionSize { get; }

    /// <summary>The etcd's client URLs, comma-separated, as nodes and movers take them.</summary>
    public string EtcdUrls { get; private set; } = "";

    /// <summary>Whether the etcd was started here (and is stopped with the cluster).</summary>
    public bool StartedEtcd => _etcd is not null;

    /// <summary>The first map, as written.</summary>
    public ClusterMap Map { get; private set; } = null!;

    /// <summary>The pairs of the map, in its order, then the spares.</summary>
    public List<LocalPair> Pairs { get; } = [];

    /// <summary>The pairs of the first map.</summary>
    public IEnumerable<LocalPair> Mapped => Pairs.Where(p => !p.Spare);

    /// <summary>
    /// Starts the etcd (unless <paramref name="etcdUrls"/> names one), writes the map and starts the pairs, one node
    /// after the other: six nodes starting at once on a loaded machine can keep one's first etcd request past the
    /// coordinator's timeout, and a node gives up when etcd does not answer at start.
    /// </summary>
    /// <remarks><paramref name="nodeArgs"/> go to every node's <c>serve</c>, restarts included.</remarks>
    /// <exception cref="LocalClusterException">etcd is not on PATH, already holds a map of this cluster, or a node did not start (three times over, with an etcd of its own).</exception>
    public static async Task<LocalCluster> StartAsync(int pairs, int spares, string name, string regionSize, string? etcdUrls, string? nodeLogs, TextWriter output, CancellationToken cancellationToken, IReadOnlyList<string>? nodeArgs = null)
    {
        // A port picked free can be taken by another process before the node binds it; with an etcd of its own the
        // whole cluster starts again on other ports (with an operator's etcd the map naming the ports is written).
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await StartOnceAsync(pairs, spares, name, regionSize, etcdUrls, nodeLogs, output, cancellationToken, nodeArgs);
            }
            catch (NodeStartException e) when (etcdUrls is null && attempt < 3)
            {
                output.WriteLine($"{e.Message}; starting the cluster again on other ports");
            }
            catch (NodeStartException e)
            {
                throw new LocalClusterException(e.Message);
            }
        }
    }

    private static async Task<LocalCluster> StartOnceAsync(int pairs, int spares, string name, string regionSize, string? etcdUrls, string? nodeLogs, TextWriter output, CancellationToken cancellationToken, IReadOnlyList<string>? nodeArgs)
    {
        var cluster = new LocalCluster(name, regionSize, nodeLogs, nodeArgs, output);
        try
        {
            await cluster.StartEtcdAsync(etcdUrls, cancellationToken);
            for (int i = 1; i <= pairs + spares; i++)
            {
                cluster.Pairs.Add(new LocalPair($"p{i}", new LocalNode(NodeAddress.Direct(FreeListenEndPoint()), FreeListenEndPoint()), new LocalNode(NodeAddress.Direct(FreeListenEndPoint()), FreeListenEndPoint()), i > pairs));
            }

            cluster.Map = ClusterMap.SplitEvenly(name, 1, [.. cluster.Mapped.Select(p => new ClusterPair(p.Id,
                [new ClusterMember(p.Primary.Address.Advertised, p.Primary.Resp), new ClusterMember(p.Secondary.Address.Advertised, p.Secondary.Resp)]))]);
            using (ClusterDirectory directory = cluster.Directory())
            {
                ClusterSnapshot existing = await directory.ReadAsync(cancellationToken);
                if (existing.Map is not null)
                {
                    throw new LocalClusterException($"etcd at {cluster.EtcdUrls} already holds a map of cluster '{name}' (version {existing.Map.Version}): choose another --name");
                }

                if (!await directory.TryPublishAsync(cluster.Map, existing, cancellationToken))
                {
                    throw new LocalClusterException($"another process wrote a map of cluster '{name}' at the same moment");
                }
            }

            output.WriteLine($"cluster {name}: etcd at {cluster.EtcdUrls}{(cluster.StartedEtcd ? " (started by this command)" : "")}, map version 1 written; starting {pairs} pairs{(spares > 0 ? $" and {spares} spare" : "")}");
            foreach (LocalPair pair in cluster.Pairs)
            {
                try
                {
                    pair.Primary.Process = await cluster.StartNodeAsync(pair, pair.Primary, primary: null, watchFor: null);
                    pair.Secondary.Process = await cluster.StartNodeAsync(pair, pair.Secondary, pair.Primary.Address.Advertised, watchFor: null);
                }
                catch (InvalidOperationException e)
                {
                    throw new NodeStartException($"pair {pair.Id}: {e.Message}", e);
                }
            }

            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>A directory of this cluster in its etcd.</summary>
    public ClusterDirectory Directory() => new([.. EtcdUrls.Split(',').Select(u => new Uri(u))], Name);

    /// <summary>
    /// Starts a node in place of the killed <paramref name="victim"/> of <paramref name="pair"/>, at its endpoints, as
    /// the secondary of <paramref name="primary"/>; the task completes when it has caught up.
    /// </summary>
    public async Task<Task> RestartAsSecondaryAsync(LocalPair pair, LocalNode victim, IPEndPoint primary)
    {
        if (victim.Process is { } old)
        {
            await old.DisposeAsync();
        }

        victim.Process = await StartNodeAsync(pair, victim, primary, watchFor: "caught up");
        return victim.Process.Watched;
    }

    public async ValueTask DisposeAsync()
    {
        // Quiet first: a survivor's view of another's end is not news at teardown.
        foreach (LocalNode node in Pairs.SelectMany(p => new[] { p.Primary, p.Secondary }))
        {
            node.Process?.Quiet();
        }

        foreach (LocalNode node in Pairs.SelectMany(p => new[] { p.Secondary, p.Primary }))
        {
            if (node.Process is not null)
            {
                await node.Process.DisposeAsync();
            }
        }

        if (_etcd is not null)
        {
            await _etcd.DisposeAsync();
        }

        foreach (TextWriter log in _logs)
        {
            await log.DisposeAsync();
        }
    }

    private async Task StartEtcdAsync(string? etcdUrls, CancellationToken cancellationToken)
    {
        if (etcdUrls is not null)
        {
            EtcdUrls = string.Join(',', etcdUrls.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            return;
        }

        string executable = LocalEtcd.FindOnPath()
            ?? throw new LocalClusterException($"etcd is not on PATH: install it ({LocalEtcd.InstallHint}) or give the URLs of a running etcd with --etcd");
        _etcd = await LocalEtcd.StartAsync(executable, cancellationToken);
        EtcdUrls = _etcd.Url.GetLeftPart(UriPartial.Authority);
    }

    private Task<ChildNode> StartNodeAsync(LocalPair pair, LocalNode node, IPEndPoint? primary, string? watchFor)
    {
        string[] args = ["--region-size", RegionSize, "--coordinator", EtcdUrls, "--cluster", Name, "--pair", pair.Id, "--resp-listen", node.Resp.ToString(), .. _nodeArgs];
        return ChildNode.StartAsync(primary is null ? "primary" : "secondary", node.Address, primary is null ? args : [.. args, "--primary", primary.ToString()], "", _output, Log(node.Address), watchFor);
    }

    private TextWriter? Log(NodeAddress address)
    {
        if (_nodeLogs is null)
        {
            return null;
        }

        System.IO.Directory.CreateDirectory(_nodeLogs);
        var writer = TextWriter.Synchronized(new StreamWriter(Path.Combine(_nodeLogs, string.Create(CultureInfo.InvariantCulture, $"node-{address.Listen.Port}.log")), append: true) { AutoFlush = true });
        _logs.Add(writer);
        return writer;
    }
}
