using MirrorKv.Client;

namespace MirrorKv.Cli.Bench;

/// <summary>
/// <c>mirrorkv bench --cluster NODE</c>: the same workload against a single pair the bench starts and against a
/// running cluster (through <see cref="MirrorKvClusterClient"/>, given any of its nodes), in turns
/// (<c>--rounds</c>), and the cost per operation of the cluster relative to the pair: issue 19's figure.
/// </summary>
internal static class ClusterBench
{
    public static async Task<int> RunAsync(BenchOptions options, BenchRunner runner, MirrorKvClientOptions pairOptions, MirrorKvClientOptions clusterOptions,
        string[] keyNames, byte[] value, int rounds, CancellationToken cancellationToken)
    {
        var pair = new List<IBenchConnection>();
        var cluster = new List<IBenchConnection>();
        try
        {
            for (int c = 0; c < options.Connections; c++)
            {
                pair.Add(new MirrorKvBenchConnection(await MirrorKvClient.ConnectAsync(pairOptions, cancellationToken), keyNames, value, options.Pipeline));
                MirrorKvClusterClient client = await MirrorKvClusterClient.ConnectAsync(clusterOptions, cancellationToken);
                if (!client.IsCluster)
                {
                    await client.DisposeAsync();
                    throw new MirrorKvException(MirrorKvError.Protocol, $"{clusterOptions.EndPoints[0]} is a single pair's node, not a cluster's: give --cluster a node of a cluster (mirrorkv cluster up)");
                }

                if (c == 0)
                {
                    Console.Out.WriteLine($"cluster: map version {client.Map!.Version}, {client.Map.Pairs.Count} pairs ({string.Join(", ", client.Map.Ranges)})");
                }

                cluster.Add(new MirrorKvClusterBenchConnection(client, keyNames, value, options.Pipeline));
            }

            IBenchConnection[] pairSide = [.. pair];
            IBenchConnection[] clusterSide = [.. cluster];
            await runner.PrepareAsync("pair", pairSide, cancellationToken);
            await runner.PrepareAsync("cluster", clusterSide, cancellationToken);
            TimeSpan rewarm = TimeSpan.FromSeconds(Math.Min(1, options.Warmup.TotalSeconds));
            var measured = new List<(IReadOnlyList<BenchResult> Pair, IReadOnlyList<BenchResult> Cluster)>();
            for (int r = 0; r < rounds; r++)
            {
                await runner.WarmAsync(pairSide, rewarm, cancellationToken);
                IReadOnlyList<BenchResult> one = await runner.MeasureRowsAsync("pair", pairSide, cancellationToken);
                await runner.WarmAsync(clusterSide, rewarm, cancellationToken);
                IReadOnlyList<BenchResult> many = await runner.MeasureRowsAsync("cluster", clusterSide, cancellationToken);
                measured.Add((one, many));
                if (rounds > 1)
                {
                    Console.Out.WriteLine($"round {r + 1,-3} pair {BenchReport.Total(one),12:N0} ops/s   cluster {BenchReport.Total(many),12:N0} ops/s   cost cluster / pair {Cost(one, many):F2}");
                }
            }

            // The median round by the cost ratio; its rows are printed, so that the ratio is theirs.
            var ordered = measured.OrderBy(m => Cost(m.Pair, m.Cluster)).ToList();
            (IReadOnlyList<BenchResult> medianPair, IReadOnlyList<BenchResult> medianCluster) = ordered[(ordered.Count - 1) / 2];
            foreach (BenchResult row in medianPair.Concat(medianCluster))
            {
                Console.Out.WriteLine(row);
            }

            foreach (BenchResult row in medianPair)
            {
                if (medianCluster.FirstOrDefault(c => c.Operation == row.Operation) is { } other)
                {
                    Console.Out.WriteLine($"ratio    {row.Operation,-4} {options.ValueSize,6} B  c={options.Connections} P={options.Pipeline,-3} cost per operation cluster / pair = {row.OpsPerSecond / other.OpsPerSecond:F2}   p50 {other.P50Micros / row.P50Micros:F2}");
                }
            }

            if (rounds > 1)
            {
                Console.Out.WriteLine($"rounds   {rounds}, pair and cluster in turns; cost ratio per round {string.Join(" ", measured.Select(m => Cost(m.Pair, m.Cluster).ToString("F2", System.Globalization.CultureInfo.InvariantCulture)))}; the rows above are the median round's");
            }

            return 0;
        }
        finally
        {
            foreach (IBenchConnection c in pair.Concat(cluster))
            {
                await c.DisposeAsync();
            }
        }
    }

    // Time per operation of the cluster over the pair's: the pair's throughput over the cluster's.
    private static double Cost(IReadOnlyList<BenchResult> pair, IReadOnlyList<BenchResult> cluster) => BenchReport.Total(pair) / BenchReport.Total(cluster);
}
