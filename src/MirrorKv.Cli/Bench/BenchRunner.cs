using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using HdrHistogram;
using MirrorKv.Client;

namespace MirrorKv.Cli.Bench;

/// <summary>
/// Drives a pair with N connections, each keeping P requests in flight (P reads posted before one flush, or
/// P concurrent writes), and records every operation's latency in an HdrHistogram.
/// </summary>
internal sealed class BenchRunner(BenchOptions options, TextWriter output)
{
    private const long HighestTrackableNanos = 60L * 1_000_000_000;

    public async Task<BenchResult> RunAsync(System.Net.IPEndPoint primary, CancellationToken cancellationToken)
    {
        var clients = new MirrorKvClient[options.Connections];
        for (int c = 0; c < clients.Length; c++)
        {
            clients[c] = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { PrimaryEndPoint = primary, RequestTimeout = TimeSpan.FromSeconds(10) }, cancellationToken);
        }

        try
        {
            string[] keys = Enumerable.Range(0, options.Keys).Select(i => "key:" + i.ToString("D12", CultureInfo.InvariantCulture)).ToArray();
            byte[] value = new byte[options.ValueSize];
            new Random(1).NextBytes(value);
            await LoadAsync(clients, keys, value, cancellationToken);
            output.WriteLine($"loaded {keys.Length:N0} keys of {options.ValueSize} B; warming up for {options.Warmup.TotalSeconds:F0} s");
            await MeasureAsync(clients, keys, value, options.Warmup, cancellationToken);

            long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
            (LongHistogram histogram, long operations, double seconds) = await MeasureAsync(clients, keys, value, options.Duration, cancellationToken);
            long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
            return new BenchResult(options.Operation, options.ValueSize, options.Connections, options.Pipeline, operations, seconds,
                Micros(histogram, 50), Micros(histogram, 99), Micros(histogram, 99.9), histogram.GetMaxValue() / 1000.0, (double)allocated / Math.Max(1, operations));
        }
        finally
        {
            foreach (MirrorKvClient client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    private async Task LoadAsync(MirrorKvClient[] clients, string[] keys, byte[] value, CancellationToken cancellationToken)
    {
        int next = -1;
        await Task.WhenAll(clients.SelectMany(client => Enumerable.Range(0, 16).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < keys.Length)
            {
                await client.SetAsync(keys[i], value, cancellationToken);
            }
        })));
    }

    private async Task<(LongHistogram Histogram, long Operations, double Seconds)> MeasureAsync(MirrorKvClient[] clients, string[] keys, byte[] value, TimeSpan duration, CancellationToken cancellationToken)
    {
        var histograms = new LongHistogram[clients.Length];
        var counts = new long[clients.Length];
        var clock = Stopwatch.StartNew();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stop.CancelAfter(duration);
        Task progress = ProgressAsync(counts, stop.Token);
        Task[] workers = new Task[clients.Length];
        for (int c = 0; c < clients.Length; c++)
        {
            int index = c;
            histograms[c] = new LongHistogram(HighestTrackableNanos, 3);
            workers[c] = options.Operation == "set"
                ? Task.Run(() => SetWorkerAsync(clients[index], keys, value, histograms[index], counts, index, stop.Token), CancellationToken.None)
                : Task.Run(() => GetWorkerAsync(clients[index], keys, histograms[index], counts, index, stop.Token), CancellationToken.None);
        }

        await Task.WhenAll(workers);
        double seconds = clock.Elapsed.TotalSeconds;
        await progress;
        var total = new LongHistogram(HighestTrackableNanos, 3);
        foreach (LongHistogram h in histograms)
        {
            total.Add(h);
        }

        return (total, counts.Sum(), seconds);
    }

    private async Task GetWorkerAsync(MirrorKvClient client, string[] keys, LongHistogram histogram, long[] counts, int index, CancellationToken stop)
    {
        var random = new Random(index + 17);
        var batch = new string[options.Pipeline];
        var writers = new ArrayBufferWriter<byte>[options.Pipeline];
        var found = new bool[options.Pipeline];
        for (int i = 0; i < writers.Length; i++)
        {
            writers[i] = new ArrayBufferWriter<byte>(options.ValueSize);
        }

        while (!stop.IsCancellationRequested)
        {
            for (int i = 0; i < batch.Length; i++)
            {
                batch[i] = keys[random.Next(keys.Length)];
                writers[i].ResetWrittenCount();
            }

            long start = Stopwatch.GetTimestamp();
            if (batch.Length == 1)
            {
                found[0] = await client.TryGetAsync(batch[0], writers[0], CancellationToken.None);
            }
            else
            {
                await client.TryGetManyAsync(batch, writers, found, CancellationToken.None);
            }

            long nanos = (long)(Stopwatch.GetElapsedTime(start).TotalMilliseconds * 1_000_000);
            for (int i = 0; i < batch.Length; i++)
            {
                if (!found[i] || writers[i].WrittenCount != options.ValueSize)
                {
                    throw new InvalidOperationException($"bench read of {batch[i]} returned {(found[i] ? writers[i].WrittenCount + " bytes" : "nothing")}");
                }

                histogram.RecordValue(Math.Min(nanos, HighestTrackableNanos));
            }

            Interlocked.Add(ref counts[index], batch.Length);
        }
    }

    private async Task SetWorkerAsync(MirrorKvClient client, string[] keys, byte[] value, LongHistogram histogram, long[] counts, int index, CancellationToken stop)
    {
        if (options.Pipeline > 1)
        {
            await SetBatchWorkerAsync(client, keys, value, histogram, counts, index, stop);
            return;
        }

        var lanes = new Task[options.Pipeline];
        for (int lane = 0; lane < lanes.Length; lane++)
        {
            var random = new Random((index * 1000) + lane);
            lanes[lane] = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    long start = Stopwatch.GetTimestamp();
                    await client.SetAsync(keys[random.Next(keys.Length)], value, CancellationToken.None);
                    long nanos = (long)(Stopwatch.GetElapsedTime(start).TotalMilliseconds * 1_000_000);
                    lock (histogram)
                    {
                        histogram.RecordValue(Math.Min(nanos, HighestTrackableNanos));
                    }

                    Interlocked.Increment(ref counts[index]);
                }
            }, CancellationToken.None);
        }

        await Task.WhenAll(lanes);
    }

    // P writes posted before one flush, as redis-benchmark -P does.
    private async Task SetBatchWorkerAsync(MirrorKvClient client, string[] keys, byte[] value, LongHistogram histogram, long[] counts, int index, CancellationToken stop)
    {
        var random = new Random(index + 31);
        var batch = new string[options.Pipeline];
        var values = Enumerable.Repeat<ReadOnlyMemory<byte>>(value, options.Pipeline).ToArray();
        while (!stop.IsCancellationRequested)
        {
            for (int i = 0; i < batch.Length; i++)
            {
                batch[i] = keys[random.Next(keys.Length)];
            }

            long start = Stopwatch.GetTimestamp();
            await client.SetManyAsync(batch, values, CancellationToken.None);
            long nanos = (long)(Stopwatch.GetElapsedTime(start).TotalMilliseconds * 1_000_000);
            for (int i = 0; i < batch.Length; i++)
            {
                histogram.RecordValue(Math.Min(nanos, HighestTrackableNanos));
            }

            Interlocked.Add(ref counts[index], batch.Length);
        }
    }

    private async Task ProgressAsync(long[] counts, CancellationToken stop)
    {
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
            output.Write($"\r  {now - last,12:N0} ops/s");
            last = now;
        }

        output.Write("\r" + new string(' ', 30) + "\r");
    }

    private static double Micros(LongHistogram histogram, double percentile) => histogram.GetValueAtPercentile(percentile) / 1000.0;
}
