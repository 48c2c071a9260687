using System.Diagnostics;
using HdrHistogram;

namespace MirrorKv.Cli.Bench;

/// <summary>
/// Drives N connections, each keeping a batch of P requests in flight (sent in one write, as
/// redis-benchmark -P does), and records every operation's latency in an HdrHistogram. The same loop
/// drives MirrorKv and redis, so that the two differ only in the server and its client library.
/// </summary>
internal sealed class BenchRunner(BenchOptions options, TextWriter output)
{
    private const long HighestTrackableNanos = 60L * 1_000_000_000;
    private readonly KeyChooser _keys = new(options.Keys, options.Distribution);

    /// <summary>Loads every key, primes the connections (see <see cref="PrimeAsync"/>) and warms up for the options' warm-up time.</summary>
    public async Task PrepareAsync(string target, IBenchConnection[] connections, CancellationToken cancellationToken)
    {
        await LoadAsync(connections);
        await PrimeAsync(connections);
        output.WriteLine($"{target}: loaded {options.Keys:N0} keys of {options.ValueSize} B; warming up for {options.Warmup.TotalSeconds:F0} s");
        await WarmAsync(connections, options.Warmup, cancellationToken);
    }

    /// <summary>Runs the workload unmeasured for <paramref name="time"/>.</summary>
    public async Task WarmAsync(IBenchConnection[] connections, TimeSpan time, CancellationToken cancellationToken) =>
        await MeasureAsync(connections, time, cancellationToken);

    /// <summary>Measures for the options' duration on prepared connections; one row per operation of the mix.</summary>
    public async Task<IReadOnlyList<BenchResult>> MeasureRowsAsync(string target, IBenchConnection[] connections, CancellationToken cancellationToken)
    {
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        (LongHistogram reads, LongHistogram writes, double seconds) = await MeasureAsync(connections, options.Duration, cancellationToken);
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        long operations = reads.TotalCount + writes.TotalCount;
        double allocatedPerOp = (double)allocated / Math.Max(1, operations);
        var rows = new List<BenchResult>();
        foreach ((string op, LongHistogram histogram) in new[] { ("get", reads), ("set", writes) })
        {
            if (histogram.TotalCount > 0)
            {
                rows.Add(new BenchResult(target, op, options.ValueSize, options.Connections, options.Pipeline, histogram.TotalCount, seconds,
                    Micros(histogram, 50), Micros(histogram, 99), Micros(histogram, 99.9), histogram.GetMaxValue() / 1000.0, allocatedPerOp));
            }
        }

        return rows;
    }

    private async Task LoadAsync(IBenchConnection[] connections)
    {
        int next = -1;
        int batchSize = options.Pipeline;
        await Task.WhenAll(connections.Select(async c =>
        {
            int start;
            while ((start = Interlocked.Add(ref next, batchSize) - batchSize + 1) < options.Keys)
            {
                int[] indexes = Enumerable.Range(start, Math.Min(batchSize, options.Keys - start)).ToArray();
                await c.SetAsync(indexes);
            }
        }));
    }

    /// <summary>
    /// Every connection reads every key once, untimed, whatever the workload: a MirrorKv client then holds
    /// the pointers of the key set, as a long-running application server's client does, so that the
    /// measurement is of the steady state rather than of first lookups and of its table growing (a write-only
    /// run without it spent its first seconds allocating the tables, which the allocation column counted).
    /// Redis connections do the same reads, for symmetry.
    /// </summary>
    private async Task PrimeAsync(IBenchConnection[] connections) =>
        await Task.WhenAll(connections.Select(async c =>
        {
            for (int start = 0; start < options.Keys; start += options.Pipeline)
            {
                await c.GetAsync(Enumerable.Range(start, Math.Min(options.Pipeline, options.Keys - start)).ToArray());
            }
        }));

    private async Task<(LongHistogram Reads, LongHistogram Writes, double Seconds)> MeasureAsync(IBenchConnection[] connections, TimeSpan duration, CancellationToken cancellationToken)
    {
        var reads = new LongHistogram[connections.Length];
        var writes = new LongHistogram[connections.Length];
        var counts = new long[connections.Length];
        var clock = Stopwatch.StartNew();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stop.CancelAfter(duration);
        Task progress = ProgressAsync(counts, stop.Token);
        Task[] workers = new Task[connections.Length];
        KeyChooser keys = _keys;
        for (int c = 0; c < connections.Length; c++)
        {
            int index = c;
            reads[c] = new LongHistogram(HighestTrackableNanos, 3);
            writes[c] = new LongHistogram(HighestTrackableNanos, 3);
            workers[c] = Task.Run(() => WorkerAsync(connections[index], keys, reads[index], writes[index], counts, index, stop.Token), CancellationToken.None);
        }

        await Task.WhenAll(workers);
        double seconds = clock.Elapsed.TotalSeconds;
        await progress;
        var totalReads = new LongHistogram(HighestTrackableNanos, 3);
        var totalWrites = new LongHistogram(HighestTrackableNanos, 3);
        for (int c = 0; c < connections.Length; c++)
        {
            totalReads.Add(reads[c]);
            totalWrites.Add(writes[c]);
        }

        return (totalReads, totalWrites, seconds);
    }

    private async Task WorkerAsync(IBenchConnection connection, KeyChooser keys, LongHistogram reads, LongHistogram writes, long[] counts, int index, CancellationToken stop)
    {
        var random = new Random(index + 17);
        var batch = new int[options.Pipeline];
        double readFraction = options.Workload.ReadFraction;
        while (!stop.IsCancellationRequested)
        {
            for (int i = 0; i < batch.Length; i++)
            {
                batch[i] = keys.Next(random);
            }

            bool read = readFraction >= 1 || (readFraction > 0 && random.NextDouble() < readFraction);
            long start = Stopwatch.GetTimestamp();
            if (read)
            {
                await connection.GetAsync(batch);
            }
            else
            {
                await connection.SetAsync(batch);
            }

            long nanos = Math.Min((long)(Stopwatch.GetElapsedTime(start).TotalMilliseconds * 1_000_000), HighestTrackableNanos);
            (read ? reads : writes).RecordValueWithCount(nanos, batch.Length);
            Interlocked.Add(ref counts[index], batch.Length);
        }
    }

    // A live ops/s line on the terminal only: redirected output (scripts, tests) gets the result rows alone.
    private static async Task ProgressAsync(long[] counts, CancellationToken stop)
    {
        if (Console.IsErrorRedirected)
        {
            return;
        }

        TextWriter progress = Console.Error;
        long last = 0;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(1000, stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            long now = counts.Sum();
            progress.Write($"\r  {now - last,12:N0} ops/s");
            last = now;
        }

        progress.Write("\r" + new string(' ', 30) + "\r");
    }

    private static double Micros(LongHistogram histogram, double percentile) => histogram.GetValueAtPercentile(percentile) / 1000.0;
}
