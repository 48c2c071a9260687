using System.Diagnostics;
using System.Globalization;

namespace MirrorKv.Cli.Cluster;

/// <summary>What a mover did: slots, entries, batches, and how long each batch's writes were fenced.</summary>
internal sealed class MoveStats
{
    private readonly List<double> _fencedMs = [];
    private double _resumedMaxMs;
    private readonly long _started = Stopwatch.GetTimestamp();

    public int Slots { get; private set; }

    public long Entries { get; private set; }

    /// <summary>Batches whose fence this run raised and lowered: the only ones whose fence it can time.</summary>
    public int Batches => _fencedMs.Count;

    /// <summary>Batches an earlier run had fenced (it stopped half-way) and this one finished.</summary>
    public int ResumedBatches { get; private set; }

    public void Add(int slots, int entries, TimeSpan fenced)
    {
        Slots += slots;
        Entries += entries;
        _fencedMs.Add(fenced.TotalMilliseconds);
    }

    /// <summary>
    /// A batch an earlier run fenced: its writes were stalled since then, so this run's part of the fence is not the
    /// stall and stays out of the percentiles (the map keeps no clock to tell when the fence went up).
    /// </summary>
    public void AddResumed(int slots, int entries, TimeSpan fencedInThisRun)
    {
        Slots += slots;
        Entries += entries;
        ResumedBatches++;
        _resumedMaxMs = Math.Max(_resumedMaxMs, fencedInThisRun.TotalMilliseconds);
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

    /// <summary>One line: slots and entries moved, slots per second, the fence per batch (p50, p99, max), resumed batches apart.</summary>
    public string Describe()
    {
        double seconds = Stopwatch.GetElapsedTime(_started).TotalSeconds;
        if (Batches + ResumedBatches == 0)
        {
            return "moved nothing: every slot is where it should be";
        }

        string fences = Batches == 0 ? "" : string.Create(CultureInfo.InvariantCulture, $"; writes of a batch fenced p50 {FencedMs(0.5):F0} ms, p99 {FencedMs(0.99):F0} ms, max {FencedMs(1):F0} ms");
        string resumed = ResumedBatches == 0 ? "" : string.Create(CultureInfo.InvariantCulture,
            $"; {ResumedBatches} of them resumed, their writes fenced since the run that stopped (this run's part up to {_resumedMaxMs:F0} ms)");
        return string.Create(CultureInfo.InvariantCulture,
            $"moved {Slots} slots ({Entries} entries) in {Batches + ResumedBatches} batches in {seconds:F1} s: {Slots / seconds:F0} slots/s{fences}{resumed}");
    }
}
