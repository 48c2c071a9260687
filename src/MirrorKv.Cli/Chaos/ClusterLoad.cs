using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.Cli.Chaos;

/// <summary>
/// The checked workload of <c>chaos --cluster</c>: writers and readers on a cluster while slots move and primaries
/// die. Each key has one writer, which writes 1, 2, 3, ... to it, so the checks need no history: a read that returns
/// less than what was acknowledged before the read began is stale, one that returns more than was ever attempted is
/// foreign, and at the end each key must hold its last acknowledged value or a later attempted one (a write that
/// failed may have landed). Failed operations are counted by error, never retried by the load itself (the client
/// retries what it may).
/// </summary>
internal sealed class ClusterLoad(int keyCount)
{
    private readonly string[] _keys = [.. Enumerable.Range(0, keyCount).Select(i => $"chaos-{i}")];
    private readonly long[] _acked = new long[keyCount];
    private readonly long[] _attempted = new long[keyCount];
    private long _reads;
    private long _staleReads;
    private long _foreignReads;

    /// <summary>Failed writes and reads by "write Unavailable/Ok" (error and wire status), for the summary.</summary>
    public ConcurrentDictionary<string, long> Failures { get; } = new(StringComparer.Ordinal);

    /// <summary>The first few bad reads and lost writes, spelled out.</summary>
    public ConcurrentQueue<string> Problems { get; } = new();

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

    public long StaleReads => Interlocked.Read(ref _staleReads);

    public long ForeignReads => Interlocked.Read(ref _foreignReads);

    public long FailedWrites => Failures.Where(f => f.Key.StartsWith("write", StringComparison.Ordinal)).Sum(f => f.Value);

    public long FailedReads => Failures.Where(f => f.Key.StartsWith("read", StringComparison.Ordinal)).Sum(f => f.Value);

    /// <summary>Runs the writers on <paramref name="writeClient"/> and the readers on <paramref name="readClient"/> until stopped.</summary>
    public Task RunAsync(MirrorKvClusterClient writeClient, MirrorKvClusterClient readClient, int writers, int readers, CancellationToken stop) =>
        Task.WhenAll([.. Enumerable.Range(0, writers).Select(w => Task.Run(() => WriteAsync(writeClient, w, writers, stop), CancellationToken.None)),
            .. Enumerable.Range(0, readers).Select(r => Task.Run(() => ReadAsync(readClient, r, stop), CancellationToken.None))]);

    /// <summary>Reads every key through <paramref name="client"/>; returns how many lost their last acknowledged value.</summary>
    public async Task<int> AuditAsync(MirrorKvClusterClient client, CancellationToken cancellationToken)
    {
        int lost = 0;
        for (int k = 0; k < _keys.Length; k++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            long found = Parse(await client.GetAsync(_keys[k], cancellationToken));
            if (found < _acked[k] || found > _attempted[k])
            {
                lost++;
                Note($"audit: {_keys[k]} (slot {HashSlot.Of(_keys[k])}) holds {found}; acknowledged {_acked[k]}, attempted {_attempted[k]}");
            }
        }

        return lost;
    }

    private async Task WriteAsync(MirrorKvClusterClient client, int writer, int writers, CancellationToken stop)
    {
        int[] mine = [.. Enumerable.Range(0, _keys.Length).Where(k => k % writers == writer)];
        for (int i = 0; !stop.IsCancellationRequested; i++)
        {
            int k = mine[i % mine.Length];
            long value = Interlocked.Increment(ref _attempted[k]);
            try
            {
                await client.SetAsync(_keys[k], Encoding.UTF8.GetBytes(value.ToString(CultureInfo.InvariantCulture)), CancellationToken.None);
                Volatile.Write(ref _acked[k], value);
            }
            catch (MirrorKvException e)
            {
                Failures.AddOrUpdate($"write {e.Error}/{e.WireStatus}", 1, (_, n) => n + 1);
            }
        }
    }

    private async Task ReadAsync(MirrorKvClusterClient client, int reader, CancellationToken stop)
    {
        var random = new Random(reader);
        while (!stop.IsCancellationRequested)
        {
            int k = random.Next(_keys.Length);
            long floor = Volatile.Read(ref _acked[k]);
            try
            {
                long found = Parse(await client.GetAsync(_keys[k], CancellationToken.None));
                Interlocked.Increment(ref _reads);
                if (found < floor)
                {
                    Interlocked.Increment(ref _staleReads);
                    Note($"stale read: {_keys[k]} (slot {HashSlot.Of(_keys[k])}) read {found} after {floor} was acknowledged");
                }
                else if (found > Volatile.Read(ref _attempted[k]))
                {
                    Interlocked.Increment(ref _foreignReads);
                    Note($"foreign read: {_keys[k]} read {found}, never written");
                }
            }
            catch (MirrorKvException e)
            {
                Failures.AddOrUpdate($"read {e.Error}/{e.WireStatus}", 1, (_, n) => n + 1);
            }
        }
    }

    private void Note(string problem)
    {
        if (Problems.Count < 20)
        {
            Problems.Enqueue(problem);
        }
    }

    private static long Parse(byte[]? value) => value is null ? 0 : long.Parse(Encoding.UTF8.GetString(value), CultureInfo.InvariantCulture);
}
