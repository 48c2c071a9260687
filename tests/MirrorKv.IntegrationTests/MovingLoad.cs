using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// Writers and readers on a cluster while its slots move, each key with one writer that writes 1, 2, 3, ...: the
/// highest value acknowledged per key is known, so a read that returns less than what was acknowledged before
/// the read began is stale, and the audit at the end finds each key's last acknowledged value (or the one whose
/// write failed after it, which may have landed). Records every write's latency with its key's slot.
/// </summary>
internal sealed class MovingLoad(string[] keys)
{
    private readonly long[] _acked = new long[keys.Length];
    private readonly long[] _attempted = new long[keys.Length];
    private readonly ConcurrentQueue<(int Slot, double Ms, long At)> _writes = new();
    private long _reads;

    public ConcurrentQueue<string> Errors { get; } = new();

    public ConcurrentQueue<string> StaleReads { get; } = new();

    public long Acknowledged
    {
        get
        {
            long sum = 0;
            for (int k = 0; k < _acked.Length; k++)
            {
                sum += Volatile.Read(ref _acked[k]);
            }

            return sum;
        }
    }

    public long Reads => Interlocked.Read(ref _reads);

    /// <summary>Keys spread over every slot range: "load-0", "load-1", ...</summary>
    public static MovingLoad Spread(int count) => new([.. Enumerable.Range(0, count).Select(i => $"load-{i}")]);

    /// <summary>Runs <paramref name="writers"/> writers on one client and <paramref name="readers"/> readers on another until stopped.</summary>
    public Task RunAsync(MirrorKvClusterClient writeClient, MirrorKvClusterClient readClient, int writers, int readers, CancellationToken stop) =>
        Task.WhenAll([.. Enumerable.Range(0, writers).Select(w => WriteAsync(writeClient, w, writers, stop)), .. Enumerable.Range(0, readers).Select(r => ReadAsync(readClient, r, stop))]);

    /// <summary>Every key read by <paramref name="client"/> holds its last acknowledged value, or a later one whose write failed.</summary>
    public async Task AuditAsync(MirrorKvClusterClient client)
    {
        for (int k = 0; k < keys.Length; k++)
        {
            long found = Parse(await client.GetAsync(keys[k]));
            Assert.True(found >= _acked[k] && found <= _attempted[k], $"{keys[k]} (slot {HashSlot.Of(keys[k])}) holds {found}; acknowledged {_acked[k]}, attempted {_attempted[k]}");
        }
    }

    /// <summary>Write latencies of keys whose slot <paramref name="moved"/> says moved: p99 and max, in ms, and their count.</summary>
    public (double P99, double Max, int Count) Stall(Func<int, bool> moved)
    {
        List<double> ms = [.. _writes.Where(w => moved(w.Slot)).Select(w => w.Ms).Order()];
        return ms.Count == 0 ? (0, 0, 0) : (ms[Math.Min(ms.Count - 1, (int)Math.Ceiling(0.99 * ms.Count) - 1)], ms[^1], ms.Count);
    }

    private async Task WriteAsync(MirrorKvClusterClient client, int writer, int writers, CancellationToken stop)
    {
        int[] mine = [.. Enumerable.Range(0, keys.Length).Where(k => k % writers == writer)];
        for (int i = 0; !stop.IsCancellationRequested; i++)
        {
            int k = mine[i % mine.Length];
            long value = Interlocked.Increment(ref _attempted[k]);
            long started = Stopwatch.GetTimestamp();
            try
            {
                await client.SetAsync(keys[k], Encoding.UTF8.GetBytes(value.ToString(CultureInfo.InvariantCulture)));
                Volatile.Write(ref _acked[k], value);
                _writes.Enqueue((HashSlot.Of(keys[k]), Stopwatch.GetElapsedTime(started).TotalMilliseconds, started));
            }
            catch (MirrorKvException e)
            {
                Errors.Enqueue($"{e.Error}/{e.WireStatus}: {keys[k]}: {e.Message}");
            }
        }
    }

    private async Task ReadAsync(MirrorKvClusterClient client, int reader, CancellationToken stop)
    {
        var random = new Random(reader);
        while (!stop.IsCancellationRequested)
        {
            int k = random.Next(keys.Length);
            long floor = Volatile.Read(ref _acked[k]);
            try
            {
                long found = Parse(await client.GetAsync(keys[k]));
                Interlocked.Increment(ref _reads);
                if (found < floor)
                {
                    StaleReads.Enqueue($"{keys[k]} (slot {HashSlot.Of(keys[k])}): read {found} after {floor} was acknowledged");
                }
            }
            catch (MirrorKvException e)
            {
                Errors.Enqueue($"read {e.Error}/{e.WireStatus}: {keys[k]}: {e.Message}");
            }
        }
    }

    private static long Parse(byte[]? value) => value is null ? 0 : long.Parse(Encoding.UTF8.GetString(value), CultureInfo.InvariantCulture);
}
