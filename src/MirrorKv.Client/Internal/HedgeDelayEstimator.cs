using System.Diagnostics;

namespace MirrorKv.Client;

/// <summary>
/// The hedge delay derived from the client's own READs: twice the 99th percentile of the last 512 READ
/// latencies (answered by the node first asked), clamped to [floor, cap]; fixed when the options set one.
/// Recording is a write into a ring; every 512th read re-sorts a preallocated copy (about 20 µs), so
/// nothing is allocated per read.
/// </summary>
internal sealed class HedgeDelayEstimator
{
    private const int Samples = 512;

    // Before the first estimate: generous, so that a cold client does not hedge its first reads.
    private static readonly long InitialTicks = Stopwatch.Frequency / 50;

    private readonly long[] _ring = new long[Samples];
    private readonly long[] _sorted = new long[Samples];
    private readonly long _floorTicks;
    private readonly long _capTicks;
    private readonly bool _fixed;
    private long _count;
    private long _delayTicks;
    private int _computing;

    public HedgeDelayEstimator(MirrorKvClientOptions options)
    {
        _floorTicks = ToTicks(options.MinHedgeDelay);
        _capTicks = Math.Max(_floorTicks, ToTicks(options.RequestTimeout / 4));
        _fixed = options.HedgeDelay is not null;
        _delayTicks = options.HedgeDelay is { } delay ? ToTicks(delay) : Math.Clamp(InitialTicks, _floorTicks, _capTicks);
    }

    /// <summary>The current delay, in <see cref="Stopwatch"/> ticks.</summary>
    public long DelayTicks => Volatile.Read(ref _delayTicks);

    public TimeSpan Delay => TimeSpan.FromSeconds((double)DelayTicks / Stopwatch.Frequency);

    /// <summary>Notes the latency of a READ the first node answered.</summary>
    public void Record(long ticks)
    {
        if (_fixed)
        {
            return;
        }

        long n = Interlocked.Increment(ref _count);
        _ring[(int)((n - 1) & (Samples - 1))] = ticks;
        if ((n & (Samples - 1)) == 0 || n == 64)
        {
            Recompute(Math.Min(n, Samples));
        }
    }

    private void Recompute(long filled)
    {
        if (Interlocked.Exchange(ref _computing, 1) == 1)
        {
            return;
        }

        try
        {
            // Torn by concurrent writers at worst: an estimate from a few newer samples is as good.
            Span<long> sorted = _sorted.AsSpan(0, (int)filled);
            _ring.AsSpan(0, (int)filled).CopyTo(sorted);
            sorted.Sort();
            long p99 = sorted[(int)((filled - 1) * 99 / 100)];
            Volatile.Write(ref _delayTicks, Math.Clamp(p99 * 2, _floorTicks, _capTicks));
        }
        finally
        {
            Volatile.Write(ref _computing, 0);
        }
    }

    private static long ToTicks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);
}
