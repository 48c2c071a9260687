using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using MirrorKv.Client;
using MirrorKv.Entries;
using MirrorKv.Protocol;
using MirrorKv.Store;

namespace MirrorKv.Cli.Bench;

/// <summary>What <c>mirrorkv bench --rejoin</c> runs.</summary>
/// <param name="DataBytes">Claimed slab bytes to load the primary with before the secondary starts.</param>
/// <param name="ValueSize">Bytes per value (keys are 16 bytes).</param>
/// <param name="RegionSize">Each node's region, as <c>serve --max-memory</c> takes it.</param>
/// <param name="WriteRate">Writes per second, all writers together, while the secondary joins; 0: as fast as they go.</param>
/// <param name="Writers">Client connections writing while the secondary joins.</param>
internal sealed record RejoinBenchOptions(ulong DataBytes, int ValueSize, string RegionSize, int WriteRate, int Writers);

/// <summary>
/// <c>mirrorkv bench --rejoin</c>: loads a primary that has no secondary with about <see cref="RejoinBenchOptions.DataBytes"/>
/// of claimed slabs, keeps writers updating random keys, starts a secondary, and reports its slab copy rate
/// (from its "copied N slabs ... in X ms" line: the copy runs from the attach to the last slab applied) and
/// the time from its start until the primary reports the pair protected. Then it stops the writers, waits for
/// the secondary to apply the whole stream, and checks that both nodes hold the same number of entries.
/// </summary>
internal sealed partial class RejoinBench(RejoinBenchOptions options, TextWriter output)
{
    private const int LoadConnections = 4;
    private const int LoadBatch = 64;
    private const int WriteBatch = 16;
    private static readonly CompositeFormat KeyFormat = CompositeFormat.Parse("key:{0:D12}");

    private long _writes;
    private long _failedWrites;

    public async Task<int> RunAsync(bool json, CancellationToken cancellationToken)
    {
        int slabSize = StoreOptions.Default.SlabSize;
        var classes = new SizeClassTable(slabSize);
        int slotSize = classes.SlotSize(classes.ClassFor(EntryLayout.EntrySize(16, options.ValueSize)));
        long slabs = Math.Max(1, (long)(options.DataBytes / (ulong)slabSize));
        int keys = (int)Math.Min(int.MaxValue, slabs * (slabSize / slotSize));
        byte[] value = new byte[options.ValueSize];
        new Random(1).NextBytes(value);

        await using PairLauncher pair = await PairLauncher.StartPrimaryAsync(options.RegionSize, "sync", Console.Error);
        var clientOptions = new MirrorKvClientOptions { EndPoints = [pair.Primary.EndPoint], RequestTimeout = TimeSpan.FromSeconds(30), Secret = pair.Secret };
        var load = Stopwatch.StartNew();
        await BulkLoader.LoadAsync(clientOptions, keys, Key, value, LoadConnections, LoadBatch, cancellationToken);
        NodeStatus loaded = await StatusAsync(pair.Primary.EndPoint, pair.Secret, cancellationToken);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"primary loaded with {loaded.Entries:N0} keys (16 B keys, {options.ValueSize} B values, {slotSize} B slots: ~{slabs:N0} slabs of 1 MiB) in {load.Elapsed.TotalSeconds:F1} s"));

        // Writers first, so that the whole copy runs under their load.
        using var stopWriters = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var writers = new List<MirrorKvClient>();
        for (int w = 0; w < options.Writers; w++)
        {
            writers.Add(await MirrorKvClient.ConnectAsync(clientOptions, cancellationToken));
        }

        Task[] writing = writers.Select((c, i) => Task.Run(() => WriteLoopAsync(c, i, keys, value, stopWriters.Token), CancellationToken.None)).ToArray();
        await Task.Delay(500, cancellationToken);

        long writesBefore = Interlocked.Read(ref _writes);
        var clock = Stopwatch.StartNew();
        (PairLauncher.ChildNode secondary, Task caughtUp) = await pair.AddSecondaryAsync(pair.Primary.EndPoint, options.RegionSize, Console.Error);
        await caughtUp.WaitAsync(TimeSpan.FromMinutes(10), cancellationToken);
        double caughtUpMs = clock.Elapsed.TotalMilliseconds;
        long writesDuringCopy = Interlocked.Read(ref _writes) - writesBefore;
        while (!(await StatusAsync(pair.Primary.EndPoint, pair.Secret, cancellationToken)).Protected)
        {
            await Task.Delay(5, cancellationToken);
        }

        double protectedMs = clock.Elapsed.TotalMilliseconds;
        await stopWriters.CancelAsync();
        await Task.WhenAll(writing);
        foreach (MirrorKvClient writer in writers)
        {
            await writer.DisposeAsync();
        }

        Match copied = CopiedSlabs().Match(secondary.LastLineContaining("caught up"));
        int copiedSlabs = copied.Success ? int.Parse(copied.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        double copyMs = copied.Success ? double.Parse(copied.Groups[2].Value, CultureInfo.InvariantCulture) : double.NaN;
        double gibPerSecond = copiedSlabs * (double)slabSize / (1 << 30) / (copyMs / 1000);
        Match cpu = CopyCpu().Match(secondary.LastLineContaining("caught up"));
        double cpuMs = cpu.Success ? double.Parse(cpu.Groups[1].Value, CultureInfo.InvariantCulture) : double.NaN;
        (NodeStatus primaryEnd, NodeStatus secondaryEnd) = await SettledAsync(pair, secondary, cancellationToken);
        bool same = primaryEnd.Entries == secondaryEnd.Entries && primaryEnd.Lsn == secondaryEnd.Lsn;

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"copied {copiedSlabs:N0} slabs ({copiedSlabs / 1024.0:F2} GiB) in {copyMs:F1} ms: {gibPerSecond:F2} GiB/s; the secondary used {cpuMs:F0} ms of CPU meanwhile"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"secondary start -> caught up {caughtUpMs:F0} ms, -> protected {protectedMs:F0} ms (process start and region allocation included)"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"writes acknowledged while it joined: {writesDuringCopy:N0} ({writesDuringCopy / (caughtUpMs / 1000):N0}/s, {options.Writers} writers, target {(options.WriteRate == 0 ? "unpaced" : options.WriteRate.ToString("N0", CultureInfo.InvariantCulture) + "/s")}); failed: {Interlocked.Read(ref _failedWrites)}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"after the writers stopped: primary {primaryEnd.Entries:N0} entries at LSN {primaryEnd.Lsn}, secondary {secondaryEnd.Entries:N0} at LSN {secondaryEnd.Lsn}: {(same ? "same" : "DIFFERENT")}"));
        if (json)
        {
            output.WriteLine(JsonSerializer.Serialize(new
            {
                rejoin = true,
                value_size = options.ValueSize,
                entries = loaded.Entries,
                slabs = copiedSlabs,
                copy_ms = Math.Round(copyMs, 1),
                copy_gib_per_second = Math.Round(gibPerSecond, 3),
                secondary_cpu_ms = Math.Round(cpuMs),
                start_to_caught_up_ms = Math.Round(caughtUpMs),
                start_to_protected_ms = Math.Round(protectedMs),
                writes_during_join = writesDuringCopy,
                write_rate_target = options.WriteRate,
                failed_writes = Interlocked.Read(ref _failedWrites),
                same_entries = same,
            }));
        }

        return same && Interlocked.Read(ref _failedWrites) == 0 ? 0 : 1;
    }

    private static string Key(int index) => string.Format(CultureInfo.InvariantCulture, KeyFormat, index);

    // Updates random keys in batches, paced to the writers' share of the rate: in place, so that slots the
    // copy reads are torn now and then, as in production.
    private async Task WriteLoopAsync(MirrorKvClient client, int index, int keys, byte[] value, CancellationToken stop)
    {
        var random = new Random(index + 17);
        var batch = new string[WriteBatch];
        ReadOnlyMemory<byte>[] values = Enumerable.Repeat<ReadOnlyMemory<byte>>(value, WriteBatch).ToArray();
        double perWriterRate = options.WriteRate / (double)options.Writers;
        var clock = Stopwatch.StartNew();
        long sent = 0;
        while (!stop.IsCancellationRequested)
        {
            if (perWriterRate > 0)
            {
                double ahead = (sent / perWriterRate) - clock.Elapsed.TotalSeconds;
                if (ahead > 0.001)
                {
                    await Task.Delay(TimeSpan.FromSeconds(ahead), CancellationToken.None);
                }
            }

            for (int i = 0; i < batch.Length; i++)
            {
                batch[i] = Key(random.Next(keys));
            }

            try
            {
                await client.SetManyAsync(batch, values, CancellationToken.None);
                Interlocked.Add(ref _writes, batch.Length);
            }
            catch (MirrorKvException)
            {
                Interlocked.Add(ref _failedWrites, batch.Length);
            }

            sent += batch.Length;
        }
    }

    // Both nodes once the secondary has applied everything the primary wrote.
    private static async Task<(NodeStatus Primary, NodeStatus Secondary)> SettledAsync(PairLauncher pair, PairLauncher.ChildNode secondary, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            NodeStatus p = await StatusAsync(pair.Primary.EndPoint, pair.Secret, cancellationToken);
            NodeStatus s = await StatusAsync(secondary.EndPoint, pair.Secret, cancellationToken);
            if ((p.Lsn == s.Lsn && p.Entries == s.Entries) || deadline.Elapsed > TimeSpan.FromSeconds(30))
            {
                return (p, s);
            }

            await Task.Delay(20, cancellationToken);
        }
    }

    private static Task<NodeStatus> StatusAsync(System.Net.IPEndPoint node, byte[] secret, CancellationToken cancellationToken) =>
        MirrorKvAdmin.GetStatusAsync(node, secret: secret, cancellationToken: cancellationToken);

    [GeneratedRegex(@"copied (\d+) slabs \(\d+ slot images\) from the primary in ([0-9.]+) ms")]
    private static partial Regex CopiedSlabs();

    [GeneratedRegex(@"([0-9]+) ms of CPU")]
    private static partial Regex CopyCpu();
}
