using System.Diagnostics;
using System.Globalization;

namespace MirrorKv.Cli.Cluster;

/// <summary>What a mover did: slots, entries, batches, and how long each batch's writes were fenced.</summary>
internal sealed class MoveStats
{
    private readonly List<double> _fencedMs = [];
    private readonly long _started = Stopwatch.GetTimestamp();

    public int Slots { get; private set; }

    public long Entries { get; private set; }

    public int Batches => _fencedMs.Count;

    public void Add(int slots, int entries, TimeSpan fenced)
    {
        Slots += slots;
        Entries += entries;
        _fencedMs.Add(fenced.TotalMilliseconds);
    }

    /// <summary>How long a batch's writes were fenced, at percentile <paramref name="p"/> (0 to 1) of the batches; NaN before any.</summary>
    public double FencedMs(double p)
    {
        if (Batches == 0)
        {
            return double.NaN;
        }

        List<double> sorted = [.. _fencedMs.Order()];
        return sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
    }

    /// <summary>One line: slots and entries moved, slots per second, the fence per batch (p50, p99, max).</summary>
    public string Describe()
    {
        double seconds = Stopwatch.GetElapsedTime(_started).TotalSeconds;
        if (Batches == 0)
        {
            return "moved nothing: every slot is where it should be";
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"moved {Slots} slots ({Entries} entries) in {Batches} batches in {seconds:F1} s: {Slots / seconds:F0} slots/s; writes of a batch fenced p50 {FencedMs(0.5):F0} ms, p99 {FencedMs(0.99):F0} ms, max {FencedMs(1):F0} ms");
    }
}
