using System.Buffers;
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
/// The loops allocate nothing per operation (the keys are named once, values are built in and read into buffers of
/// each loop's own): a collection in this process would stop every reader at once and count as a stall of the pair.
/// With a <see cref="RollingHistory"/>, every read and write after the load goes into it as well (the value is the
/// generation; a key's generation 0 is the loaded value), for the caller to check window by window.
/// It runs over a pair's client or a cluster's (<see cref="IWorkloadTarget"/>); with <see cref="Groups"/>, each group
/// of keys (a cluster's pair) is counted and its gaps measured apart as well.
/// </summary>
internal sealed class Workload(int keys, int valueSize, Action<string> say, RollingHistory? history = null, bool missesAllowed = false)
{
    private readonly string[] _keys = [.. Enumerable.Range(0, keys).Select(Key)];
    private readonly int[] _acked = new int[keys];
    private readonly int[] _attempted = new int[keys];
    private readonly CompletionGaps _readGaps = new(), _writeGaps = new();
    private long _reads, _writes, _failed, _badReads, _failedReads, _misses;
    private long _mark = long.MaxValue;
    private long _firstReadAfterMark = long.MaxValue;
    private long _firstWriteAfterMark = long.MaxValue;
    private WorkloadGroup[]? _groupOfKey;

    public long Reads => Interlocked.Read(ref _reads);

    public long Writes => Interlocked.Read(ref _writes);

    public long FailedWrites => Interlocked.Read(ref _failed);

    /// <summary>Reads that returned a value they should not have: torn, another key's, older than acknowledged.</summary>
    public long BadReads => Interlocked.Read(ref _badReads);

    /// <summary>
    /// Reads that found no value, with misses allowed (the nodes evict): a miss is a served read, and the checks take
    /// it as no answer (an evicted key), not as a lost write; a value older than acknowledged is still a bad read.
    /// </summary>
    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>Keys <see cref="VerifyAsync(IWorkloadTarget, CancellationToken)"/> found absent, with misses allowed.</summary>
    public int MissingAtEnd { get; private set; }

    /// <summary>Reads that failed with an error (no value returned).</summary>
    public long FailedReads => Interlocked.Read(ref _failedReads);

    /// <summary>When the last good read and the last acknowledged write completed (Stopwatch timestamps).</summary>
    public (long Read, long Write) LastCompleted => (_readGaps.Last, _writeGaps.Last);

    public int Keys => keys;

    /// <summary>The groups given to <see cref="SetGroups"/>, in order; empty without.</summary>
    public IReadOnlyList<WorkloadGroup> Groups { get; private set; } = [];

    /// <summary>The key the workload writes as number <paramref name="i"/> (0 to <see cref="Keys"/> - 1).</summary>
    public static string Key(int i) => $"demo:{i:D8}";

    /// <summary>Splits the keys in groups, before <see cref="Start(IWorkloadTarget, int, int, CancellationToken)"/>: key i belongs to <paramref name="groups"/>[<paramref name="groupOf"/>(i)].</summary>
    public void SetGroups(IReadOnlyList<WorkloadGroup> groups, Func<int, int> groupOf)
    {
        Groups = groups;
        _groupOfKey = [.. Enumerable.Range(0, keys).Select(i => groups[groupOf(i)])];
    }

    /// <summary>
    /// Writes every key once, 16 writes in flight. False when the pair's store is full before every key is in
    /// (OutOfMemory): the caller says which setting to change, rather than the exception's stack trace.
    /// </summary>
    public Task<bool> TryLoadAsync(MirrorKvClient client, CancellationToken cancellationToken) => TryLoadAsync(WorkloadTarget.Of(client), cancellationToken);

    /// <inheritdoc cref="TryLoadAsync(MirrorKvClient, CancellationToken)"/>
    public async Task<bool> TryLoadAsync(IWorkloadTarget client, CancellationToken cancellationToken)
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
                    await client.SetAsync(_keys[i], Value(i, 0), cancellationToken);
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
    public Task[] Start(MirrorKvClient client, int readers, int writers, CancellationToken stop) => Start(WorkloadTarget.Of(client), readers, writers, stop);

    /// <inheritdoc cref="Start(MirrorKvClient, int, int, CancellationToken)"/>
    /// <remarks>
    /// With <see cref="Groups"/>, every group gets <paramref name="readers"/> readers and <paramref name="writers"/>
    /// writers of its own keys, so that operations stalled in one group (a pair failing over, slots fenced by a move)
    /// hold up no other group's: a group's gaps are its keys' own.
    /// </remarks>
    public Task[] Start(IWorkloadTarget client, int readers, int writers, CancellationToken stop)
    {
        int[][] pools = _groupOfKey is null
            ? [[.. Enumerable.Range(0, keys)]]
            : [.. Groups.Select(g => Enumerable.Range(0, keys).Where(i => _groupOfKey[i] == g).ToArray())];
        var tasks = new List<Task>();
        foreach (int[] pool in pools.Where(p => p.Length > 0))
        {
            int poolWriters = Math.Min(writers, pool.Length), seeds = tasks.Count;
            tasks.AddRange(Enumerable.Range(0, readers).Select(r => Task.Run(() => ReadLoopAsync(client, pool, seeds + r, stop), CancellationToken.None)));
            tasks.AddRange(Enumerable.Range(0, poolWriters).Select(w => Task.Run(() => WriteLoopAsync(client, pool, w, poolWriters, stop), CancellationToken.None)));
        }

        return [.. tasks];
    }

    /// <summary>A failure happened now: stalls are measured from here.</summary>
    public void Mark()
    {
        Volatile.Write(ref _firstReadAfterMark, long.MaxValue);
        Volatile.Write(ref _firstWriteAfterMark, long.MaxValue);
        _readGaps.Reset();
        _writeGaps.Reset();
        foreach (WorkloadGroup group in Groups)
        {
            group.ReadGaps.Reset();
            group.WriteGaps.Reset();
        }

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
        return (_readGaps.LongestMs(mark, now), _writeGaps.LongestMs(mark, now));
    }

    /// <summary>As <see cref="LongestGaps()"/>, for the keys of one group.</summary>
    public (double ReadMs, double WriteMs) LongestGaps(WorkloadGroup group)
    {
        long now = Stopwatch.GetTimestamp(), mark = Volatile.Read(ref _mark);
        return (group.ReadGaps.LongestMs(mark, now), group.WriteGaps.LongestMs(mark, now));
    }

    /// <summary>Reads every key and counts those whose value is older than acknowledged, or not a value of that key.</summary>
    public Task<int> VerifyAsync(MirrorKvClient client, CancellationToken cancellationToken) => VerifyAsync(WorkloadTarget.Of(client), cancellationToken);

    /// <inheritdoc cref="VerifyAsync(MirrorKvClient, CancellationToken)"/>
    public async Task<int> VerifyAsync(IWorkloadTarget client, CancellationToken cancellationToken)
    {
        int lost = 0, missing = 0;
        var value = new ArrayBufferWriter<byte>();
        for (int i = 0; i < keys; i++)
        {
            value.ResetWrittenCount();
            bool found = await client.TryGetAsync(_keys[i], value, cancellationToken);
            int generation = found ? GenerationOf(value.WrittenSpan, i) : -1;
            if (!found && missesAllowed)
            {
                missing++;
            }
            else if (generation < _acked[i] || generation > _attempted[i])
            {
                lost++;
            }
        }

        MissingAtEnd = missing;
        return lost;
    }

    // Reads random keys of the pool.
    private async Task ReadLoopAsync(IWorkloadTarget client, int[] pool, int seed, CancellationToken stop)
    {
        var random = new Random(seed);
        var value = new ArrayBufferWriter<byte>(valueSize * 3);
        while (!stop.IsCancellationRequested)
        {
            int i = pool[random.Next(pool.Length)];
            WorkloadGroup? group = _groupOfKey?[i];
            int floor = Volatile.Read(ref _acked[i]);
            long started = Stopwatch.GetTimestamp();
            string key = _keys[i];
            long id = history?.InvokeRead(key) ?? 0;
            bool found;
            try
            {
                value.ResetWrittenCount();
                found = await client.TryGetAsync(key, value, CancellationToken.None);
            }
            catch (MirrorKvException e)
            {
                say($"read of {key} failed: {e.Message}");
                history?.Complete(id, Outcome.Fail);
                Interlocked.Increment(ref _failedReads);
                group?.ReadFailed();
                continue;
            }

            int generation = found ? GenerationOf(value.WrittenSpan, i) : -1;
            bool miss = !found && missesAllowed;
            if (miss)
            {
                // An evicted key: the register's model has no eviction, so the checker gets no answer from this read.
                history?.Complete(id, Outcome.Fail);
                Interlocked.Increment(ref _misses);
            }
            else
            {
                // Absent is null to the checker; a value that is no value of this key (-2) was never written.
                history?.Complete(id, Outcome.Ok, generation == -1 ? null : generation);
            }

            long mark = Volatile.Read(ref _mark);
            bool good = miss || (generation >= floor && generation <= Volatile.Read(ref _attempted[i]));
            if (good)
            {
                _readGaps.Completed(mark);
            }
            else
            {
                Interlocked.Increment(ref _badReads);
            }

            group?.ReadDone(good, mark);
            Interlocked.Increment(ref _reads);
            if (started > Volatile.Read(ref _mark))
            {
                RecordFirst(ref _firstReadAfterMark);
            }
        }
    }

    // Writes random keys of the pool that are this writer's: every writers-th, from its number on.
    private async Task WriteLoopAsync(IWorkloadTarget client, int[] pool, int writer, int writers, CancellationToken stop)
    {
        var random = new Random(100 + writer);
        byte[] even = new byte[ValueLength(0)], odd = new byte[ValueLength(1)];
        while (!stop.IsCancellationRequested)
        {
            int i = pool[(random.Next(pool.Length / writers) * writers) + writer];
            WorkloadGroup? group = _groupOfKey?[i];
            int generation = Interlocked.Increment(ref _attempted[i]);
            long started = Stopwatch.GetTimestamp();
            string key = _keys[i];
            long id = history?.InvokeWrite(key, generation) ?? 0;
            try
            {
                byte[] value = generation % 2 == 0 ? even : odd;
                Fill(value, i, generation);
                await client.SetAsync(key, value, CancellationToken.None);
                history?.Complete(id, Outcome.Ok);
                Volatile.Write(ref _acked[i], generation);
                Interlocked.Increment(ref _writes);
                long mark = Volatile.Read(ref _mark);
                _writeGaps.Completed(mark);
                group?.WriteAcknowledged(mark);
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
                group?.WriteFailed();
                await Task.Delay(50, CancellationToken.None);
            }
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

    // Odd generations are three times larger: updates then relocate between size classes, so the pair
    // uses several slabs of several classes, and the translation more than one delta.
    private byte[] Value(int key, int generation)
    {
        var value = new byte[ValueLength(generation)];
        Fill(value, key, generation);
        return value;
    }

    private static void Fill(Span<byte> value, int key, int generation)
    {
        BinaryPrimitives.WriteInt32LittleEndian(value, key);
        BinaryPrimitives.WriteInt32LittleEndian(value[4..], generation);
        for (int b = 8; b < value.Length; b++)
        {
            value[b] = Filler(key, generation, b);
        }
    }

    private int ValueLength(int generation) => generation % 2 == 0 ? valueSize : valueSize * 3;

    private static byte Filler(int key, int generation, int at) => (byte)((key * 31) + (generation * 7) + at);

    // The generation a value carries, or -2 when it is not a well-formed value of this key (a bad read).
    private int GenerationOf(ReadOnlySpan<byte> value, int key)
    {
        if (value.Length < 8 || BinaryPrimitives.ReadInt32LittleEndian(value) != key)
        {
            return -2;
        }

        int generation = BinaryPrimitives.ReadInt32LittleEndian(value[4..]);
        if (value.Length != ValueLength(generation))
        {
            return -2;
        }

        for (int b = 8; b < value.Length; b++)
        {
            if (value[b] != Filler(key, generation, b))
            {
                return -2;
            }
        }

        return generation;
    }
}
