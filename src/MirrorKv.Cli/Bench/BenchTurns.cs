using MirrorKv.Cli.Redis;
using MirrorKv.Client;

namespace MirrorKv.Cli.Bench;

/// <summary>
/// The measuring part of <c>mirrorkv bench</c>: MirrorKv and, with <c>--compare redis</c>, redis measured in
/// turns (<c>--rounds</c>), the median round printed. A shared machine's speed drifts within a minute; in
/// turns, the drift falls on both sides of a ratio alike.
/// </summary>
internal static class BenchTurns
{
    /// <summary>Starts redis-server with a replica, or says how to install it and returns null.</summary>
    public static async Task<RedisPair?> StartRedisAsync()
    {
        RedisPair? pair = await RedisPair.StartAsync(Console.Error);
        if (pair is null)
        {
            Console.Out.WriteLine("redis comparison skipped: redis-server not found (install it with: apt-get install redis-server redis-tools)");
        }

        return pair;
    }

    /// <summary>
    /// Prepares both sides (load, prime, warm-up), then measures them in turns, each turn after a short warm-up
    /// of its own (the other side's turn took the caches); prints the median round's rows and its ratio.
    /// </summary>
    public static async Task<BenchReport> MeasureAsync(BenchOptions options, BenchRunner runner, MirrorKvClientOptions clientOptions, RedisPair? redis,
        string[] keyNames, byte[] value, int rounds, CancellationToken cancellationToken)
    {
        var ours = new List<IBenchConnection>();
        var theirs = new List<IBenchConnection>();
        var waiting = new List<IBenchConnection>();
        try
        {
            for (int c = 0; c < options.Connections; c++)
            {
                ours.Add(new MirrorKvBenchConnection(await MirrorKvClient.ConnectAsync(clientOptions, cancellationToken), keyNames, value, options.Pipeline));
            }

            IBenchConnection[] mirrorKv = [.. ours];
            await runner.PrepareAsync("mirrorkv", mirrorKv, cancellationToken);
            if (redis is not null)
            {
                byte[][] keyBytes = keyNames.Select(k => System.Text.Encoding.ASCII.GetBytes(k)).ToArray();
                for (int c = 0; c < options.Connections; c++)
                {
                    theirs.Add(new RedisBenchConnection(await RespClient.ConnectAsync(redis.Port), keyBytes, value, options.Pipeline));
                }

                await runner.PrepareAsync("redis", [.. theirs], cancellationToken);

                // The like-for-like write row: redis acknowledging a SET only once its replica has it, as
                // MirrorKv's sync mode does. Same redis, same keys (loaded above), its own connections.
                if (options.Workload.HasWrites && options.Replication == "sync")
                {
                    for (int c = 0; c < options.Connections; c++)
                    {
                        waiting.Add(new RedisBenchConnection(await RespClient.ConnectAsync(redis.Port), keyBytes, value, options.Pipeline, waitForReplica: true));
                    }
                }
            }

            IBenchConnection[] redisSide = [.. theirs];
            IBenchConnection[] redisWaitSide = [.. waiting];
            var measuredWait = new List<IReadOnlyList<BenchResult>>();

            // A round's ratio of all its rows (MirrorKv's ops/s alone without a comparison): what the median is taken of.
            static double Score((IReadOnlyList<BenchResult> Ours, IReadOnlyList<BenchResult>? Theirs) round) =>
                round.Theirs is null ? BenchReport.Total(round.Ours) : BenchReport.Total(round.Ours) / BenchReport.Total(round.Theirs);

            TimeSpan rewarm = TimeSpan.FromSeconds(Math.Min(1, options.Warmup.TotalSeconds));
            var measured = new List<(IReadOnlyList<BenchResult> Ours, IReadOnlyList<BenchResult>? Theirs)>();
            for (int r = 0; r < rounds; r++)
            {
                // Right after its own preparation a side is warm; after the other side's turn it is not.
                if (r > 0 || redis is not null)
                {
                    await runner.WarmAsync(mirrorKv, rewarm, cancellationToken);
                }

                IReadOnlyList<BenchResult> mine = await runner.MeasureRowsAsync("mirrorkv", mirrorKv, cancellationToken);
                IReadOnlyList<BenchResult>? other = null;
                if (redis is not null)
                {
                    await runner.WarmAsync(redisSide, rewarm, cancellationToken);
                    other = await runner.MeasureRowsAsync("redis", redisSide, cancellationToken);
                    if (redisWaitSide.Length > 0)
                    {
                        await runner.WarmAsync(redisWaitSide, rewarm, cancellationToken);
                        measuredWait.Add(await runner.MeasureRowsAsync("redis+WAIT", redisWaitSide, cancellationToken));
                    }
                }

                measured.Add((mine, other));
                if (rounds > 1)
                {
                    Console.Out.WriteLine($"round {r + 1,-3} mirrorkv {BenchReport.Total(mine),12:N0} ops/s" + (other is null ? "" : $"   redis {BenchReport.Total(other),12:N0} ops/s   ratio {Score(measured[^1]):F2}"));
                }
            }

            // The median round's rows are printed, so that the ratio line is the quotient of the two rows above it.
            var ordered = measured.OrderBy(Score).ToList();
            (IReadOnlyList<BenchResult> median, IReadOnlyList<BenchResult>? medianRedis) = ordered[(ordered.Count - 1) / 2];
            PrintRows(options, median);
            var report = new BenchReport(options, median, null, null) { RoundRatios = medianRedis is null ? [] : measured.Select(Score).ToArray() };
            if (redis is null || medianRedis is null)
            {
                return report;
            }

            PrintRows(options, medianRedis);
            foreach (BenchResult row in median)
            {
                if (medianRedis.FirstOrDefault(r => r.Operation == row.Operation) is { } other)
                {
                    Console.Out.WriteLine($"ratio    {row.Operation,-4} {options.ValueSize,6} B  c={options.Connections} P={options.Pipeline,-3} mirrorkv / redis = {row.OpsPerSecond / other.OpsPerSecond:F2}");
                }
            }

            if (!options.Workload.IsSingleOperation)
            {
                Console.Out.WriteLine($"ratio    total ({options.Workload.Name}, {options.Distribution}) mirrorkv / redis = {Score((median, medianRedis)):F2}");
            }

            if (rounds > 1)
            {
                Console.Out.WriteLine($"rounds   {rounds}, MirrorKv and redis in turns; ratio per round {string.Join(" ", report.RoundRatios.Select(x => x.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)))}; the rows above are the median round's");
            }

            // The redis+WAIT row of the round whose own sync / WAIT ratio is the median: a round's three turns
            // see the same minute of the machine, and the median of their quotients is steadier than either side's.
            IReadOnlyList<BenchResult>? medianWait = null;
            double[] waitRatios = [];
            double? ratioWait = null;
            if (measuredWait.Count == measured.Count && measuredWait.Count > 0)
            {
                waitRatios = measured.Select((round, i) => BenchReport.Total(Sets(round.Ours)) / BenchReport.Total(Sets(measuredWait[i]))).ToArray();
                int waitMedian = Enumerable.Range(0, waitRatios.Length).OrderBy(i => waitRatios[i]).ElementAt((waitRatios.Length - 1) / 2);
                medianWait = measuredWait[waitMedian];
                ratioWait = waitRatios[waitMedian];
                PrintRows(options, medianWait);
                Console.Out.WriteLine($"ratio    {"set",-4} {options.ValueSize,6} B  c={options.Connections} P={options.Pipeline,-3} mirrorkv sync / redis+WAIT 1 0 = {ratioWait:F2}");

                if (rounds > 1)
                {
                    Console.Out.WriteLine($"rounds   sync / redis+WAIT per round {string.Join(" ", waitRatios.Select(x => x.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)))}; the redis+WAIT row is the median round's (round {waitMedian + 1}: mirrorkv set {BenchReport.Total(Sets(measured[waitMedian].Ours)):N0} ops/s)");
                }
            }

            string? reference = options.Workload.IsSingleOperation ? await redis.RunRedisBenchmarkAsync(options) : null;
            Console.Out.WriteLine(!options.Workload.IsSingleOperation ? "redis-benchmark reference: none for mixed workloads"
                : reference is null ? "redis-benchmark not found: no reference figure" : $"redis-benchmark reference (C client): {reference}");
            return report with { Redis = medianRedis, RedisBenchmark = reference, RedisWait = medianWait, RatioWait = ratioWait, WaitRoundRatios = waitRatios };
        }
        finally
        {
            foreach (IBenchConnection c in ours.Concat(theirs).Concat(waiting))
            {
                await c.DisposeAsync();
            }
        }
    }

    private static IReadOnlyList<BenchResult> Sets(IReadOnlyList<BenchResult> rows) => rows.Where(r => r.Operation == "set").ToArray();

    private static void PrintRows(BenchOptions options, IReadOnlyList<BenchResult> rows)
    {
        foreach (BenchResult row in rows)
        {
            Console.Out.WriteLine(row);
        }

        if (!options.Workload.IsSingleOperation && rows.Count > 0)
        {
            Console.Out.WriteLine($"{rows[0].Target,-8} total  workload {options.Workload.Name}, {options.Distribution} keys: {BenchReport.Total(rows),12:N0} ops/s");
        }
    }
}
