using System.Buffers.Binary;
using System.Diagnostics;
using MirrorKv.Client;
using MirrorKv.Linearizability;

namespace MirrorKv.Cli;

/// <summary>
/// The checked read/write workload of <c>demo</c> and <c>chaos</c>. Every value says which key and which
/// generation it is, so a reader can tell a torn, foreign or stale value from a good one; writers own
/// disjoint keys, so each key's generations only grow. Acknowledged generations are checked at the end.
/// A read that fails with an error is counted apart from a bad read (a value it should not have returned).
/// With a <see cref="RollingHistory"/>, every read and write after the load goes into it as well (the value is the
/// generation; a key's generation 0 is the loaded value), for the caller to check window by window.
/// </summary>
internal sealed class Workload(int keys, int valueSize, Action<string> say, RollingHistory? history = null)
{
    private readonly int[] _acked = new int[keys];
    private readonly int[] _attempted = new int[keys];
    private long _reads, _writes, _failed, _badReads, _failedReads;
    private long _mark = long.MaxValue;
    private long _firstReadAfterMark = long.MaxValue;
    private long _firstWriteAfterMark = long.MaxValue;
    private long _lastRead, _lastWrite;
    private long _longestReadGap, _longestWriteGap;

    public long Reads => Interlocked.Read(ref _reads);

    public long Writes => Interlocked.Read(ref _writes);

    public long FailedWrites => Interlocked.Read(ref _failed);

    /// <summary>Reads that returned a value they should not have: torn, another key's, older than acknowledged.</summary>
    public long BadReads => Interlocked.Read(ref _badReads);

    /// <summary>Reads that failed with an error (no value returned).</summary>
    public long FailedReads => Interlocked.Read(ref _failedReads);

    /// <summary>When the last good read and the last acknowledged write completed (Stopwatch timestamps).</summary>
    public (long Read, long Write) LastCompleted => (Volatile.Read(ref _lastRead), Volatile.Read(ref _lastWrite));

    public int Keys => keys;

    /// <summary>
    /// Writes every key once, 16 writes in flight. False when the pair's store is full before every key is in
    /// (OutOfMemory): the caller says which setting to change, rather than the exception's stack trace.
    /// </summary>
    public async Task<bool> TryLoadAsync(MirrorKvClient client, CancellationToken cancellationToken)
    {
        int next = -1;
        bool full = false;
        await Task.WhenAll(Enumerable.Range(0, 16).Select(async _ =>
        {
            int i;
            while (!Volatile.Read(ref full) && (i = Interlocked.Increment(ref next)) < keys)
            {
                try
                {
                    await client.SetAsync(Key(i), Value(i, 0), cancellationToken);
                }
                catch (MirrorKvException e) when (e.Error == MirrorKvError.OutOfMemory)
                {
                    Volatile.Write(ref full, true);
                }
            }
        }));
        return !full;
    }

    /// <summary>Starts readers and writers until <paramref name="stop"/>.</summary>
    public Task[] Start(MirrorKvClient client, int readers, int writers, CancellationToken stop) =>
    [
        .. Enumerable.Range(0, readers).Select(r => Task.Run(() => ReadLoopAsync(client, r, stop), CancellationToken.None)),
        .. Enumerable.Range(0, writers).Select(w => Task.Run(() => WriteLoopAsync(client, w, writers, stop), CancellationToken.None)),
    ];

    /// <summary>A failure happened now: stalls are measured from here.</summary>
    public void Mark()
    {
        Volatile.Write(ref _firstReadAfterMark, long.MaxValue);
        Volatile.Write(ref _firstWriteAfterMark, long.MaxValue);
        Volatile.Write(ref _longestReadGap, 0);
        Volatile.Write(ref _longestWriteGap, 0);
        Volatile.Write(ref _mark, Stopwatch.GetTimestamp());
    }

    /// <summary>Time from the mark to the first read, and the first acknowledged write, that started after it; NaN if none yet.</summary>
    public (double ReadMs, double WriteMs) Stalls()
    {
        long mark = Volatile.Read(ref _mark);
        static double Ms(long mark, long at) => at == long.MaxValue ? double.NaN : Stopwatch.GetElapsedTime(mark, at).TotalMilliseconds;
        return (Ms(mark, Volatile.Read(ref _firstReadAfterMark)), Ms(mark, Volatile.Read(ref _firstWriteAfterMark)));
    }

    /// <summary>
    /// Since the mark, the longest time in which no good read (no acknowledged write) completed, counted from
    /// the mark for the first one, and up to now for a stall still going on. A fault that stops service some
    /// time after it began (a paused secondary: the primary fences half a second later) shows here, not in
    /// <see cref="Stalls"/>.
    /// </summary>
    public (double ReadMs, double WriteMs) LongestGaps()
    {
        long now = Stopwatch.GetTimestamp(), mark = Volatile.Read(ref _mark);
        double Longest(long longest, long last) =>
            Stopwatch.GetElapsedTime(0, Math.Max(longest, now - Math.Max(last, mark))).TotalMilliseconds;
        return (Longest(Volatile.Read(ref _longestReadGap), Volatile.Read(ref _lastRead)), Longest(Volatile.Read(ref _longestWriteGap), Volatile.Read(ref _lastWrite)));
    }

    /// <summary>Reads every key and counts those whose value is older than acknowledged, or not a value of that key.</summary>
    public async Task<int> VerifyAsync(MirrorKvClient client, CancellationToken cancellationToken)
    {
        int lost = 0;
        for (int i = 0; i < keys; i++)
        {
            byte[]? value = await client.GetAsync(Key(i), cancellationToken);
            int generation = value is null ? -1 : GenerationOf(value, i);
            if (generation < _acked[i] || generation > _attempted[i])
            {
                lost++;
            }
        }

        return lost;
    }

    private async Task ReadLoopAsync(MirrorKvClient client, int seed, CancellationToken stop)
    {
        var random = new Random(seed);
        while (!stop.IsCancellationRequested)
        {
            int i = random.Next(keys);
            int floor = Volatile.Read(ref _acked[i]);
            long started = Stopwatch.GetTimestamp();
            string key = Key(i);
            long id = history?.InvokeRead(key) ?? 0;
            byte[]? value;
            try
            {
                value = await client.GetAsync(key, CancellationToken.None);
            }
            catch (MirrorKvException e)
            {
                say($"read of {key} failed: {e.Message}");
                history?.Complete(id, Outcome.Fail);
                Interlocked.Increment(ref _failedReads);
                continue;
            }

            int generation = value is null ? -1 : GenerationOf(value, i);

            // Absent is null to the checker; a value that is no value of this key (-2) was never written.
            history?.Complete(id, Outcome.Ok, generation == -1 ? null : generation);
            if (generation < floor || generation > Volatile.Read(ref _attempted[i]))
            {
                Interlocked.Increment(ref _badReads);
            }
            else
            {
                Completed(ref _lastRead, ref _longestReadGap);
            }

            Interlocked.Increment(ref _reads);
            if (started > Volatile.Read(ref _mark))
            {
                RecordFirst(ref _firstReadAfterMark);
            }
        }
    }

    private async Task WriteLoopAsync(MirrorKvClient client, int writer, int writers, CancellationToken stop)
    {
        var random = new Random(100 + writer);
        while (!stop.IsCancellationRequested)
        {
            int i = (random.Next(keys / writers) * writers) + writer;
            int generation = Interlocked.Increment(ref _attempted[i]);
            long started = Stopwatch.GetTimestamp();
            string key = Key(i);
            long id = history?.InvokeWrite(key, generation) ?? 0;
            try
            {
                await client.SetAsync(key, Value(i, generation), CancellationToken.None);
                history?.Complete(id, Outcome.Ok);
                Volatile.Write(ref _acked[i], generation);
                Interlocked.Increment(ref _writes);
                Completed(ref _lastWrite, ref _longestWriteGap);
                if (started > Volatile.Read(ref _mark))
                {
                    RecordFirst(ref _firstWriteAfterMark);
                }
            }
            catch (MirrorKvException)
            {
                // Not acknowledged (Unavailable, or a status such as ReplicationFailed after a fence): the key
                // may hold this generation or an older one, which the checks allow.
                history?.Complete(id, Outcome.Unknown);
                Interlocked.Increment(ref _failed);
                await Task.Delay(50, CancellationToken.None);
            }
        }
    }

    // Called by every reader (writer) as it completes: the gap since the previous completion, or since
    // the mark for the first one after it, is a candidate for the longest.
    private void Completed(ref long last, ref long longestGap)
    {
        long now = Stopwatch.GetTimestamp();
        long from = Math.Max(Interlocked.Exchange(ref last, now), Volatile.Read(ref _mark));
        long gap = now - from;
        long current;
        while (gap > (current = Volatile.Read(ref longestGap)) && Interlocked.CompareExchange(ref longestGap, gap, current) != current)
        {
        }
    }

    private static void RecordFirst(ref long first)
    {
        long now = Stopwatch.GetTimestamp();
        long current;
        while (now < (current = Volatile.Read(ref first)) && Interlocked.CompareExchange(ref first, now, current) != current)
        {
        }
    }

    private static string Key(int i) => $"demo:{i:D8}";

    // Odd generations are three times larger: updates then relocate between size classes, so the pair
    // uses several slabs of several classes, and the translation more than one delta.
    private byte[] Value(int key, int generation)
    {
        var value = new byte[generation % 2 == 0 ? valueSize : valueSize * 3];
        BinaryPrimitives.WriteInt32LittleEndian(value, key);
        BinaryPrimitives.WriteInt32LittleEndian(value.AsSpan(4), generation);
        for (int b = 8; b < value.Length; b++)
        {
            value[b] = (byte)((key * 31) + (generation * 7) + b);
        }

        return value;
    }

    // The generation a value carries, or -2 when it is not a well-formed value of this key (a bad read).
    private int GenerationOf(byte[] value, int key)
    {
        if (value.Length < 8 || BinaryPrimitives.ReadInt32LittleEndian(value) != key)
        {
            return -2;
        }

        int generation = BinaryPrimitives.ReadInt32LittleEndian(value.AsSpan(4));
        return value.AsSpan().SequenceEqual(Value(key, generation)) ? generation : -2;
    }
}
