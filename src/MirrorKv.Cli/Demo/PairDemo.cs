using System.Buffers.Binary;
using System.Diagnostics;
using MirrorKv.Client;

namespace MirrorKv.Cli.Demo;

/// <summary>
/// The main job: a primary and a secondary as child processes, a read/write workload, kill -9 of the
/// primary partway, and a check of every acknowledged write at the end. Exits 1 if a write was lost or a
/// read returned a wrong value.
/// </summary>
internal sealed class PairDemo(PairDemoOptions options, TextWriter output)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _reads, _writes, _refused, _badReads;
    private long _killedAt = long.MaxValue;
    private volatile string _phase = "pair protected";
    private long _firstReadAfterKill = long.MaxValue;
    private long _firstWriteAfterKill = long.MaxValue;

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        Say("MirrorKv demo: a primary and a secondary as child processes, a read/write workload, and kill -9 of the primary.");
        await using PairLauncher pair = await PairLauncher.StartAsync("256m", "sync", output);
        Say($"primary   {pair.Primary.EndPoint}   secondary {pair.Secondary.EndPoint} (sync replication, slabs taken top-down)");
        await using MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { PrimaryEndPoint = pair.Primary.EndPoint }, cancellationToken);
        if (!await client.WaitForSecondaryAsync(cancellationToken))
        {
            Say("the client could not reach the secondary");
            return 1;
        }

        client.PathChanged += path => Say(path switch
        {
            ClientPath.FailingOver => $"{Now} client: primary lost; reads go to the secondary as FAILOVER_READ with the primary's pointers",
            ClientPath.Secondary => $"{Now} client: reads are one-sided at the secondary with translated pointers",
            _ => $"{Now} client: the secondary was promoted (epoch {client.Epoch}); writes go to it, the pair is unprotected",
        });
        client.TableRewritten += (pointers, deltas) =>
            Say($"{Now} client: table rewritten from the secondary's translation ({pointers:N0} pointers, {deltas} distinct slab deltas)");

        int n = options.Keys;
        var acked = new int[n];
        var attempted = new int[n];
        await LoadAsync(client, n, cancellationToken);
        Say($"{Now} loaded {n:N0} keys of {options.ValueSize} B");

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task[] workers =
        [
            .. Enumerable.Range(0, 3).Select(r => Task.Run(() => ReadLoopAsync(client, acked, attempted, r, stop.Token), CancellationToken.None)),
            .. Enumerable.Range(0, 2).Select(w => Task.Run(() => WriteLoopAsync(client, acked, attempted, w, stop.Token), CancellationToken.None)),
        ];
        Task progress = ProgressAsync(client, stop.Token);

        await Task.Delay(options.BeforeKill, cancellationToken);
        // Stalls are measured from the moment the process is known dead, so that nothing it served
        // on its way out is counted as served after the kill.
        await pair.Primary.KillAsync();
        Interlocked.Exchange(ref _killedAt, Stopwatch.GetTimestamp());
        _phase = "primary killed, pair unprotected";
        Say($"{Now} kill -9 of the primary (process exited)");
        await Task.Delay(options.AfterKill / 3, cancellationToken);

        // The killed node comes back as a secondary of the promoted one: slab copy, then the stream.
        var rejoinClock = Stopwatch.StartNew();
        Say($"{Now} restarting the killed node as a secondary of {pair.Secondary.EndPoint}");
        PairLauncher.ChildNode rejoined = await pair.StartSecondaryOfAsync(pair.Secondary.EndPoint, "256m", output);
        await rejoined.WaitForLineAsync("caught up", TimeSpan.FromSeconds(30));
        double rejoinMs = rejoinClock.Elapsed.TotalMilliseconds;
        _phase = "pair protected again";
        Say($"{Now} the restarted node copied the primary's slabs and caught up in {rejoinMs:F0} ms: the pair is protected again");
        await Task.Delay(options.AfterKill * 2 / 3, cancellationToken);
        await stop.CancelAsync();
        await Task.WhenAll(workers);
        await progress;

        (int lost, int checkedKeys) = await VerifyAsync(client, acked, attempted, cancellationToken);
        ClientStats stats = client.Stats;
        double stallMs = _firstReadAfterKill == long.MaxValue ? double.NaN : Stopwatch.GetElapsedTime(_killedAt, _firstReadAfterKill).TotalMilliseconds;
        double writeStallMs = _firstWriteAfterKill == long.MaxValue ? double.NaN : Stopwatch.GetElapsedTime(_killedAt, _firstWriteAfterKill).TotalMilliseconds;
        Say("");
        Say("summary");
        Say($"  operations            {_reads + _writes,12:N0} ({_reads:N0} reads, {_writes:N0} acknowledged writes)");
        Say($"  writes lost           {lost,12:N0} (every acknowledged write checked on the surviving node: {checkedKeys:N0} keys)");
        Say($"  bad reads             {_badReads,12:N0} (torn, stale after acknowledgement, or another key's value)");
        Say($"  read stall            {stallMs,12:F1} ms (the primary's exit to the first successful read started after it)");
        Say($"  rejoin                {rejoinMs,12:F0} ms (restart of the killed node to caught up: slab copy and stream)");
        Say($"  write stall           {writeStallMs,12:F1} ms (the primary's exit to the first acknowledged write started after it, epoch {client.Epoch})");
        Say($"  failover reads        {stats.FailoverReads,12:N0} (FAILOVER_READ with primary pointers, before the rewrite)");
        Say($"  slab deltas           {stats.TranslationDeltas,12:N0} (distinct, in the translation the client rewrote its table with)");
        Say($"  writes failed         {_refused,12:N0} (Unavailable: no node could take them)");
        return lost == 0 && _badReads == 0 ? 0 : 1;
    }

    private string Now => $"[{_clock.Elapsed.TotalSeconds,5:F2} s]";

    private async Task LoadAsync(MirrorKvClient client, int n, CancellationToken cancellationToken)
    {
        int next = -1;
        await Task.WhenAll(Enumerable.Range(0, 16).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < n)
            {
                await client.SetAsync(Key(i), Value(i, 0), cancellationToken);
            }
        }));
    }

    private async Task ReadLoopAsync(MirrorKvClient client, int[] acked, int[] attempted, int seed, CancellationToken stop)
    {
        var random = new Random(seed);
        while (!stop.IsCancellationRequested)
        {
            int i = random.Next(acked.Length);
            int floor = Volatile.Read(ref acked[i]);
            long started = Stopwatch.GetTimestamp();
            byte[]? value;
            try
            {
                value = await client.GetAsync(Key(i), CancellationToken.None);
            }
            catch (MirrorKvException e)
            {
                Say($"{Now} read of {Key(i)} failed: {e.Message}");
                Interlocked.Increment(ref _badReads);
                continue;
            }

            int generation = value is null ? -1 : GenerationOf(value, i);
            if (generation < floor || generation > Volatile.Read(ref attempted[i]))
            {
                Interlocked.Increment(ref _badReads);
            }

            Interlocked.Increment(ref _reads);
            if (started > Volatile.Read(ref _killedAt))
            {
                RecordFirst(ref _firstReadAfterKill);
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

    private async Task WriteLoopAsync(MirrorKvClient client, int[] acked, int[] attempted, int writer, CancellationToken stop)
    {
        // Each writer owns the keys of its parity, so generations per key grow without coordination.
        var random = new Random(100 + writer);
        while (!stop.IsCancellationRequested)
        {
            int i = (random.Next(acked.Length / 2) * 2) + writer;
            if (i >= acked.Length)
            {
                continue;
            }

            int generation = Interlocked.Increment(ref attempted[i]);
            long started = Stopwatch.GetTimestamp();
            try
            {
                await client.SetAsync(Key(i), Value(i, generation), CancellationToken.None);
                Volatile.Write(ref acked[i], generation);
                Interlocked.Increment(ref _writes);
                if (started > Volatile.Read(ref _killedAt))
                {
                    RecordFirst(ref _firstWriteAfterKill);
                }
            }
            catch (MirrorKvException e) when (e.Error == MirrorKvError.Unavailable)
            {
                Interlocked.Increment(ref _refused);
                await Task.Delay(50, CancellationToken.None);
            }
        }
    }

    private async Task ProgressAsync(MirrorKvClient client, CancellationToken stop)
    {
        long lastReads = 0, lastWrites = 0;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(500, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            long reads = Interlocked.Read(ref _reads), writes = Interlocked.Read(ref _writes);
            Say($"{Now} {(reads - lastReads) * 2,8:N0} reads/s {(writes - lastWrites) * 2,7:N0} writes/s   {_phase}, client path {client.Path}");
            (lastReads, lastWrites) = (reads, writes);
        }
    }

    private async Task<(int Lost, int Checked)> VerifyAsync(MirrorKvClient client, int[] acked, int[] attempted, CancellationToken cancellationToken)
    {
        int lost = 0;
        for (int i = 0; i < acked.Length; i++)
        {
            byte[]? value = await client.GetAsync(Key(i), cancellationToken);
            int generation = value is null ? -1 : GenerationOf(value, i);
            if (generation < acked[i] || generation > attempted[i])
            {
                lost++;
            }
        }

        return (lost, acked.Length);
    }

    private static string Key(int i) => $"demo:{i:D8}";

    // Odd generations are three times larger: updates then relocate between size classes, so the pair
    // uses several slabs of several classes, and the translation more than one delta.
    private int SizeOf(int generation) => generation % 2 == 0 ? options.ValueSize : options.ValueSize * 3;

    private byte[] Value(int key, int generation)
    {
        var value = new byte[SizeOf(generation)];
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

    private void Say(string line)
    {
        lock (output)
        {
            output.WriteLine(line);
        }
    }
}
