using System.Diagnostics;
using MirrorKv.Adapter;
using MirrorKv.Cli.Chaos;
using MirrorKv.Protocol;
using MirrorKv.Store;

namespace MirrorKv.Cli.Simulation;

/// <summary>
/// <c>cluster-sim --pairs P</c> (the benchmark tool's command; docs/scale-out.md, "Limits"): what a cluster of P pairs
/// costs etcd, its nodes and its clients, measured on one machine. Against a real etcd (its own from PATH unless
/// <c>--etcd</c>): the map's size on the wire and in etcd; P pairs' coordinator keys and lease renewals (and the
/// secondaries' in-sync reads); 2P watches of the cluster's prefix, each a node's <see cref="ClusterDirectory.WatchAsync"/>,
/// through a rebalance's map changes and one pair's failover; then, for up to <c>--node-pairs</c> pairs, real nodes in
/// this process, a client's redirections after a real slot move, and its pointer table's memory per key.
/// </summary>
internal static class ClusterSimulation
{
    public const string Usage = "usage: cluster-sim [--pairs 100] [--etcd URL] [--changes 6] [--change-limit 300] [--start-rate 0] [--resp yes|no] [--seconds 5] [--node-pairs 100] [--keys 20000] [--move-slots 1024] [--workers 8] [--memory-keys 200000]";

    /// <summary>The command: parses, runs, prints the table; exit code 2 on bad arguments.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output)
    {
        ClusterSimOptions options;
        try
        {
            options = ClusterSimOptions.Parse(args);
        }
        catch (ArgumentException e)
        {
            await output.WriteLineAsync($"error: {e.Message}\n{Usage}");
            return 2;
        }

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        ClusterSimResult result = await RunAsync(options, output, cancel.Token);
        ClusterSimReport.Write(result, output);
        return 0;
    }

    /// <summary>Runs every part; <paramref name="log"/> hears of each as it goes.</summary>
    public static async Task<ClusterSimResult> RunAsync(ClusterSimOptions options, TextWriter log, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        LocalEtcd? own = null;
        if (options.Etcd is null)
        {
            string executable = LocalEtcd.FindOnPath() ?? throw new InvalidOperationException($"etcd is not on PATH ({LocalEtcd.InstallHint}); or give --etcd URL");
            own = await LocalEtcd.StartAsync(executable, cancellationToken);
        }

        try
        {
            Uri url = options.Etcd ?? own!.Url;
            string run = Guid.NewGuid().ToString("N")[..6];
            await log.WriteLineAsync($"cluster-sim: {options.Pairs} pairs, etcd {url}{(own is null ? "" : " (its own)")}, {Environment.ProcessorCount} cores");
            using var etcd = new EtcdProbe(url);
            ClusterMap map = SimMap.Even($"sim-{run}", options.Pairs);
            using (var directory = new ClusterDirectory([url], map.Name))
            {
                if (!await directory.TryPublishAsync(map, await directory.ReadAsync(cancellationToken), cancellationToken))
                {
                    throw new InvalidOperationException($"cluster {map.Name} already has a map");
                }
            }

            LeaseFigures leases, leasesAndReads;
            MapFigures sizes;
            WatchFigures watch;
            await using (SimPairs pairs = await SimPairs.StartAsync(etcd, map, cancellationToken))
            {
                await log.WriteLineAsync($"leases: {options.Pairs} primaries renewing, {options.Seconds} s; then with the secondaries' in-sync reads");
                TimeSpan window = TimeSpan.FromSeconds(options.Seconds);
                leases = await pairs.MeasureAsync(window, inSyncReads: false, cancellationToken);
                leasesAndReads = await pairs.MeasureAsync(window, inSyncReads: true, cancellationToken);
                sizes = await MapSizesAsync(etcd, map, cancellationToken);
                await log.WriteLineAsync($"watch: {2 * options.Pairs} watchers{(options.StartRate > 0 ? $" started {options.StartRate} a second" : "")}, {options.Changes} map changes, one failover (the leases renewing meanwhile)");
                watch = await new WatchFanOut(etcd, map, pairs, log) { ChangeLimit = TimeSpan.FromSeconds(options.ChangeLimitSeconds), StartRate = options.StartRate, FillLeaders = options.Resp }.RunAsync(2 * options.Pairs, options.Changes, cancellationToken);
            }

            RedirectFigures? redirect = null;
            MemoryFigures? memory = null;
            string? nodesFailed = null;
            int nodePairs = Math.Min(options.Pairs, options.NodePairs);
            if (nodePairs > 0)
            {
                await log.WriteLineAsync($"nodes: {nodePairs} pairs of real nodes in this process{(nodePairs < options.Pairs ? $" (not {options.Pairs}: --node-pairs)" : "")}");
                long starting = Stopwatch.GetTimestamp();
                try
                {
                    await using SimNodes nodes = await SimNodes.StartClusterAsync(url, $"nodes-{run}", nodePairs, StoreFor(options, nodePairs), parallel: 4, cancellationToken);
                    await log.WriteLineAsync($"  {2 * nodePairs} nodes protected in {Stopwatch.GetElapsedTime(starting).TotalSeconds:F1} s");

                    // Memory first: no client of another part may still be letting go of its objects while the heap is read.
                    memory = await PointerMemory.RunAsync(nodes, options.MemoryKeys, cancellationToken);
                    redirect = await RedirectionRun.RunAsync(nodes, url, options.Keys, options.MoveSlots, options.Workers, log, cancellationToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // The etcd figures stand without the nodes': say what failed rather than lose them.
                    nodesFailed = e.Message;
                    await log.WriteLineAsync($"  the nodes' part failed after {Stopwatch.GetElapsedTime(starting).TotalSeconds:F1} s: {e.Message}");
                }
            }

            return new ClusterSimResult(options, url, Environment.ProcessorCount, sizes, leases, leasesAndReads, watch, redirect, memory, nodesFailed, Stopwatch.GetElapsedTime(started));
        }
        finally
        {
            if (own is not null)
            {
                await own.DisposeAsync();
            }
        }
    }

    private static async Task<MapFigures> MapSizesAsync(EtcdProbe etcd, ClusterMap map, CancellationToken cancellationToken)
    {
        // The wire size with the name of the 3-pair figure (cluster "dev"): the name is on the wire, not in etcd's JSON.
        ClusterMap dev = SimMap.Even("dev", map.Pairs.Count);
        byte[] wire = new byte[ClusterMapMessages.ReplySize(dev)];
        int written = ClusterMapMessages.WriteReply(wire, dev);
        string prefix = ClusterDirectory.PrefixOf(map.Name);
        byte[] json = await etcd.GetAsync($"{prefix}map", cancellationToken) ?? throw new InvalidOperationException("the map is not in etcd");
        using var directory = new ClusterDirectory([etcd.Url], map.Name);
        var times = new List<double>();
        for (int i = 0; i < 11; i++)
        {
            long t = Stopwatch.GetTimestamp();
            await directory.ReadAsync(cancellationToken);
            times.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
        }

        return new MapFigures(map.Pairs.Count, written, json.Length, await etcd.CountAsync(prefix, cancellationToken), await etcd.RangeBytesAsync(prefix, cancellationToken),
            Percentiles.Of(times, 0.5), json, wire[..written]);
    }

    // Room for a pair's share of both runs' keys, the moved slots' keys on top, at 256 bytes an entry, and the slab classes' first slabs.
    private static StoreOptions StoreFor(ClusterSimOptions options, int pairs)
    {
        long perPair = ((long)options.Keys + options.MemoryKeys) / pairs + ((long)options.Keys * options.MoveSlots / HashSlot.Count);
        ulong mib = (ulong)((perPair * 256) >> 20) + 4;
        return new StoreOptions { MaxMemory = mib << 20, SlabSize = 64 << 10, MaxValueLength = 4096 };
    }
}
