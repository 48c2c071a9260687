using System.Text.Json;

namespace MirrorKv.Cli.Bench;

/// <summary>Everything one bench run measured, for <c>--json</c>.</summary>
internal sealed record BenchReport(BenchOptions Options, IReadOnlyList<BenchResult> MirrorKv, IReadOnlyList<BenchResult>? Redis, string? RedisBenchmark)
{
    /// <summary>With a comparison, MirrorKv / redis of every round, in the order measured (one entry per round).</summary>
    public IReadOnlyList<double> RoundRatios { get; init; } = [];

    /// <summary>
    /// With a comparison and writes: redis with WAIT 1 0 after each batch of SETs, in the round whose MirrorKv SET /
    /// redis+WAIT ratio is the median (<see cref="RatioWait"/>).
    /// </summary>
    public IReadOnlyList<BenchResult>? RedisWait { get; init; }

    /// <summary>MirrorKv's synchronous SETs / redis+WAIT's, the median over the rounds.</summary>
    public double? RatioWait { get; init; }

    /// <summary>MirrorKv's synchronous SETs / redis+WAIT's of every round, in the order measured.</summary>
    public IReadOnlyList<double> WaitRoundRatios { get; init; } = [];

    /// <summary>Operations per second of all the rows of one target together.</summary>
    public static double Total(IReadOnlyList<BenchResult> rows) => rows.Sum(r => r.Operations) / Math.Max(1e-9, rows.Count == 0 ? 1 : rows.Max(r => r.Seconds));

    /// <summary>One JSON object, snake_case, on one line.</summary>
    public string ToJson()
    {
        static object Rows(IReadOnlyList<BenchResult> rows) => rows.Select(r => new
        {
            op = r.Operation,
            ops_per_second = Math.Round(r.OpsPerSecond),
            p50_us = r.P50Micros,
            p99_us = r.P99Micros,
            p999_us = r.P999Micros,
            max_us = r.MaxMicros,
            client_alloc_bytes_per_op = Math.Round(r.AllocatedBytesPerOp, 1),
        }).ToArray();

        return JsonSerializer.Serialize(new
        {
            workload = Options.Workload.Name,
            distribution = Options.Distribution,
            keys = Options.Keys,
            value_size = Options.ValueSize,
            connections = Options.Connections,
            pipeline = Options.Pipeline,
            duration_seconds = Options.Duration.TotalSeconds,
            mirrorkv = new { total_ops_per_second = Math.Round(Total(MirrorKv)), rows = Rows(MirrorKv) },
            redis = Redis is null ? null : new { total_ops_per_second = Math.Round(Total(Redis)), rows = Rows(Redis) },
            ratio = Redis is null ? (double?)null : Math.Round(Total(MirrorKv) / Total(Redis), 3),
            redis_wait = RedisWait is null ? null : new { total_ops_per_second = Math.Round(Total(RedisWait)), rows = Rows(RedisWait) },
            ratio_wait = RatioWait is null ? (double?)null : Math.Round(RatioWait.Value, 3),
            round_ratios_wait = WaitRoundRatios.Select(r => Math.Round(r, 3)).ToArray(),
            round_ratios = RoundRatios.Select(r => Math.Round(r, 3)).ToArray(),
            redis_benchmark = RedisBenchmark,
        });
    }
}
