using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using MirrorKv.Adapter;

namespace MirrorKv.Benchmarks.Micro;

/// <summary>
/// The primary's lease check, which runs twice per received batch (before it is served and before its
/// replies leave), against a bare read of the monotonic clock: what the check adds to a batch.
/// </summary>
public class LeaseBenchmarks
{
    private readonly Lease _limited = new(TimeProvider.System, TimeSpan.FromMilliseconds(500));
    private readonly Lease _witnessed = new(TimeProvider.System, TimeSpan.FromMilliseconds(500));

    [GlobalSetup]
    public void Setup()
    {
        // Far in the future, so that every check takes the fast path (valid and fresh).
        _limited.Limit(Stopwatch.GetTimestamp() + (Stopwatch.Frequency * 3600));
        _witnessed.UseWitness();
        _witnessed.RenewWitness(Stopwatch.GetTimestamp() + (Stopwatch.Frequency * 3600), TimeSpan.FromSeconds(2));
    }

    [Benchmark(Baseline = true)]
    public long ClockRead() => Stopwatch.GetTimestamp();

    [Benchmark]
    public bool IsFresh_PairMode() => _limited.IsFresh;

    [Benchmark]
    public bool IsFresh_WithWitness() => _witnessed.IsFresh;
}
