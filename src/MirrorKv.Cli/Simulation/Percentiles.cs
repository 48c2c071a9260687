namespace MirrorKv.Cli.Simulation;

/// <summary>Percentiles of a few thousand samples, by sorting: the simulation's samples are too few for a histogram to pay.</summary>
internal static class Percentiles
{
    /// <summary>The sample at quantile <paramref name="q"/> (0.5: the median, 1: the largest); 0 when there are none.</summary>
    public static double Of(IReadOnlyCollection<double> samples, double q)
    {
        if (samples.Count == 0)
        {
            return 0;
        }

        double[] sorted = [.. samples];
        Array.Sort(sorted);
        return sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
    }
}
