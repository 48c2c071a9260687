namespace MirrorKv.Cli.Chaos;

/// <summary>What a chaos run measured: stalls after each primary kill, rejoin times, and the checks.</summary>
internal sealed record ChaosResult(int Cycles, IReadOnlyList<double> ReadStallsMs, IReadOnlyList<double> WriteStallsMs, IReadOnlyList<double> RejoinsMs, long AcknowledgedWrites, int WritesLost, long BadReads)
{
    /// <summary>p50, p99 and max of <paramref name="values"/> (nearest rank), or nulls when empty.</summary>
    public static (double? P50, double? P99, double? Max) Percentiles(IReadOnlyList<double> values)
    {
        if (values.Count == 0)
        {
            return (null, null, null);
        }

        double[] sorted = [.. values.Order()];
        double At(double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p / 100 * sorted.Length) - 1)];
        return (At(50), At(99), sorted[^1]);
    }
}
