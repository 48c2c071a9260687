using System.Diagnostics;
using System.Globalization;
using MirrorKv.Adapter;
using MirrorKv.Cli.Cluster;
using MirrorKv.Client;
using MirrorKv.Protocol;
using static MirrorKv.Cli.PairLauncher;

namespace MirrorKv.Cli.Chaos;

/// <summary>
/// <c>mirrorkv chaos --cluster N</c>: a cluster of N pairs of real processes over etcd under a checked workload
/// (<see cref="ClusterLoad"/>). Each cycle moves a seeded range of slots from one pair to another (the mover of
/// <c>cluster move</c>, in this process) and, while the move runs, kills the primary of a seeded pair with SIGKILL:
/// the move's source, its target or a bystander. The pair fails over by itself; the run then restarts the dead node as
/// secondary of the survivor (a supervisor's job), waits until the pair is protected again and the move is over (a
/// move the kill stopped is resumed, as an operator runs the command again), and checks the map holds no move left
/// half-done. At the end every key is read by a fresh client. Exits 1 on a lost write, a stale or foreign read, a pair
/// that did not heal or a move that did not finish.
/// </summary>
internal sealed class ClusterChaosRunner(ChaosOptions options, TextWriter output)
{
    private const string RegionSize = "64m";

    // Most slots of one cycle's move and per batch: a few batches per move, so that the kill lands before, between
    // and inside batches; each batch fences its writes for well under a second on a loaded machine.
    private const int MostSlotsPerMove = 768;
    private const int BatchSlots = 128;

    // A pair that is not protected again this long after its primary was killed has not healed by itself.
    private static readonly TimeSpan HealLimit = TimeSpan.FromSeconds(45);

    // A move that is not over this long after the kill is stuck.
    private static readonly TimeSpan MoveLimit = TimeSpan.FromSeconds(120);

    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Random _random = new(options.Seed);
    private readonly Dictionary<string, TextWriter> _logs = new(StringComparer.Ordinal);

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        LocalEtcd? etcd = null;
        string? urls = options.Coordinator;
        if (urls is null or ChaosOptions.LocalCoordinator)
        {
            if (LocalEtcd.FindOnPath() is not { } executable)
            {
                Say($"error: chaos --cluster needs etcd: none on PATH; install it ({LocalEtcd.InstallHint}) or give the URLs of a running etcd with --coordinator");
                return 2;
            }

            try
            {
                etcd = await LocalEtcd.StartAsync(executable, cancellationToken);
            }
            catch (InvalidOperationException e)
            {
                Say($"error: could not start etcd: {e.Message}");
                return 2;
            }

            urls = etcd.Url.GetLeftPart(UriPartial.Authority);
        }

        try
        {
            return await RunClusterAsync(urls, etcd is not null, cancellationToken);
        }
        catch (InvalidOperationException e)
        {
            Say($"error: {e.Message}");
            return 3;
        }
        finally
        {
            if (etcd is not null)
            {
                await etcd.DisposeAsync();
            }

            foreach (TextWriter log in _logs.Values)
            {
                await log.DisposeAsync();
            }
        }
    }

    private async Task<int> RunClusterAsync(string urls, bool ownEtcd, CancellationToken cancellationToken)
    {
        int pairCount = options.ClusterPairs!.Value;

        // A cluster name of its own per run: a map another run left in a shared etcd must not be ours.
        string name = $"chaos-{options.Seed}-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4))}";
        Say($"chaos: {options.Cycles} cycles, seed {options.Seed}, {options.Keys:N0} keys; cluster mode: {pairCount} pairs, cluster {name}, etcd at {urls}{(ownEtcd ? " (started by this run)" : "")}; "
            + "each cycle moves slots and kills a primary (the move's source, its target or a bystander) while the move runs"
            + (options.NodeLogs is null ? "" : $"; node and mover logs in {options.NodeLogs}, this run started at {DateTime.Now:HH:mm:ss.fff}"));
        List<Uri> etcd = [.. urls.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(u => new Uri(u))];
        var addresses = Enumerable.Range(1, pairCount).Select(i => ($"p{i}", NodeAddress.Direct(FreeListenEndPoint()), NodeAddress.Direct(FreeListenEndPoint()))).ToList();
        using var directory = new ClusterDirectory(etcd, name);
        ClusterMap first = ClusterMap.SplitEvenly(name, 1, [.. addresses.Select(a => new ClusterPair(a.Item1, [new ClusterMember(a.Item2.Advertised), new ClusterMember(a.Item3.Advertised)]))]);
        if (!await directory.TryPublishAsync(first, await directory.ReadAsync(cancellationToken), cancellationToken))
        {
            Say($"error: etcd already holds a map of cluster {name}");
            return 2;
        }

        var pairs = new List<ClusterChaosPair>();
        try
        {
            // One node after the other: many processes starting at once on a loaded machine can keep a node's first
            // etcd request past its timeout, and a node gives up when etcd does not answer at start.
            foreach ((string id, NodeAddress primary, NodeAddress secondary) in addresses)
            {
                string[] args = ["--region-size", RegionSize, "--coordinator", urls, "--cluster", name, "--pair", id];
                pairs.Add(await ClusterChaosPair.StartAsync(id, primary, secondary, args, output, NodeLog));
            }

            foreach (ClusterChaosPair pair in pairs)
            {
                if (!await pair.WaitProtectedAsync(HealLimit, cancellationToken))
                {
                    Say($"error: pair {pair.Id} did not become protected within {HealLimit.TotalSeconds:F0} s of its start");
                    return 3;
                }
            }

            return await RunCyclesAsync(directory, pairs, cancellationToken);
        }
        finally
        {
            foreach (ClusterChaosPair pair in pairs)
            {
                await pair.DisposeAsync();
            }
        }
    }

    private async Task<int> RunCyclesAsync(ClusterDirectory directory, List<ClusterChaosPair> pairs, CancellationToken cancellationToken)
    {
        var endPoints = pairs.SelectMany(p => p.EndPoints).ToList();
        await using MirrorKvClusterClient writeClient = await MirrorKvClusterClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = endPoints }, cancellationToken);
        await using MirrorKvClusterClient readClient = await MirrorKvClusterClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [.. endPoints.AsEnumerable().Reverse()] }, cancellationToken);
        var load = new ClusterLoad(options.Keys);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task running = load.RunAsync(writeClient, readClient, writers: 4, readers: 2, stop.Token);
        TextWriter moverLog = NodeLogFile("mover.log") ?? TextWriter.Null;
        var mover = new SlotMover(directory, null, moverLog) { BatchSlots = BatchSlots, PatienceLimit = TimeSpan.FromSeconds(60) };

        var promotions = new List<double>();
        var victims = new Dictionary<string, int>(StringComparer.Ordinal) { ["source"] = 0, ["target"] = 0, ["bystander"] = 0 };
        int resumed = 0, done = 0, cycles = 0;
        bool failed = false;
        for (int number = 1; number <= options.Cycles && !failed; number++)
        {
            cycles = number;
            await Task.Delay(_random.Next(100, 400), cancellationToken);
            ClusterMap map = await mover.MapAsync(cancellationToken);
            (int firstSlot, int lastSlot, string from, string to) = PickMove(map);
            string[] roles = pairs.Count > 2 ? ["source", "target", "bystander"] : ["source", "target"];
            string role = roles[_random.Next(roles.Length)];
            ClusterChaosPair victim = role switch
            {
                "source" => pairs.Single(p => p.Id == from),
                "target" => pairs.Single(p => p.Id == to),
                _ => pairs.Where(p => p.Id != from && p.Id != to).ElementAt(_random.Next(pairs.Count - 2)),
            };
            int killAfterMs = _random.Next(0, 1500);
            long acknowledgedBefore = load.Acknowledged;
            var cycleClock = Stopwatch.StartNew();
            moverLog.WriteLine($"{DateTime.Now:HH:mm:ss.fff} cycle {number}: slots {firstSlot}-{lastSlot} {from} -> {to}; {victim.Id}'s primary killed after {killAfterMs} ms");
            Task moving = mover.MoveAsync(firstSlot, lastSlot, to, cancellationToken);
            await Task.WhenAny(moving, Task.Delay(killAfterMs, cancellationToken));
            // One fault at a time: a pair whose primary dropped its secondary (a stall of the loaded machine) is not
            // protected, and its survivor rightly refuses to take over from a primary that may have acknowledged
            // writes alone. So the kill waits, if need be, until the victim's pair is protected again.
            if (!await victim.WaitProtectedAsync(HealLimit, cancellationToken))
            {
                Say($"cycle {number,3}: pair {victim.Id} is not protected {HealLimit.TotalSeconds:F0} s into the cycle: stopping");
                failed = true;
                await FinishMoveAsync(mover, moving, cancellationToken);
                break;
            }

            double killedAt = cycleClock.Elapsed.TotalMilliseconds;
            string killedWhile = moving.IsCompleted ? "after the move" : "during the move";
            string killed = victim.Primary.EndPoint.ToString();
            TimeSpan? promoted = await victim.KillPrimaryAndHealAsync(HealLimit, cancellationToken);
            victims[role]++;
            if (promoted is { } p)
            {
                promotions.Add(p.TotalMilliseconds);
            }

            (bool finished, bool wasResumed, string why) = await FinishMoveAsync(mover, moving, cancellationToken);
            resumed += wasResumed ? 1 : 0;
            ClusterMap after = await mover.MapAsync(cancellationToken);
            bool clean = finished && !after.HasMigrations && StateIs(after, firstSlot, lastSlot, to);
            done += clean ? 1 : 0;
            Say(string.Create(CultureInfo.InvariantCulture,
                $"cycle {number,3}: slots {firstSlot,5}-{lastSlot,5} {from} -> {to}; killed {victim.Id}'s primary {killed} ({role,-9}) {killedAt,5:F0} ms in, {killedWhile}; ")
                + (promoted is { } q ? string.Create(CultureInfo.InvariantCulture, $"promoted in {q.TotalMilliseconds,5:F0} ms, epoch {victim.Epoch}, protected again; ") : "NOT HEALED; ")
                + (clean ? $"move done{(wasResumed ? " (resumed)" : "")}" : $"MOVE NOT DONE ({why}; map {after})")
                + string.Create(CultureInfo.InvariantCulture, $" at map version {after.Version} in {cycleClock.Elapsed.TotalSeconds:F1} s; {load.Acknowledged - acknowledgedBefore:N0} writes acknowledged, {load.StaleReads} stale reads"));
            failed = promoted is null || !clean;
        }

        // Writes and reads go on after the last cycle, then the audit by a client that starts from nothing.
        long last = load.Acknowledged;
        long deadline = Stopwatch.GetTimestamp() + (10 * Stopwatch.Frequency);
        while (load.Acknowledged < last + 100 && Stopwatch.GetTimestamp() < deadline)
        {
            await Task.Delay(10, cancellationToken);
        }

        await stop.CancelAsync();
        await running;
        int? lost;
        try
        {
            await using MirrorKvClusterClient auditor = await MirrorKvClusterClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = endPoints }, cancellationToken);
            lost = await load.AuditAsync(auditor, cancellationToken);
        }
        catch (MirrorKvException e)
        {
            Say($"the acknowledged writes could not be checked: {e.Message}");
            lost = null;
        }

        foreach (string problem in load.Problems)
        {
            Say(problem);
        }

        await moverLog.FlushAsync(cancellationToken);
        PrintSummary(cycles, load, mover, promotions, victims, resumed, done, lost, writeClient.Redirects + readClient.Redirects);
        return !failed && lost == 0 && load.StaleReads == 0 && load.ForeignReads == 0 ? 0 : 1;
    }

    // Waits for the cycle's move; one the kill stopped (the mover gave up, or etcd refused) is resumed as an operator
    // would: run again, it finishes every move the map shows under way.
    private static async Task<(bool Finished, bool Resumed, string Why)> FinishMoveAsync(SlotMover mover, Task moving, CancellationToken cancellationToken)
    {
        string why = "";
        try
        {
            await moving.WaitAsync(MoveLimit, cancellationToken);
            return (true, false, "");
        }
        catch (Exception e) when (e is MoveException or InvalidOperationException)
        {
            why = e.Message;
        }
        catch (TimeoutException)
        {
            return (false, false, $"the move was not over {MoveLimit.TotalSeconds:F0} s after the kill");
        }

        for (int attempt = 0; attempt < 3; attempt++)
        {
            try
            {
                await mover.FinishPendingAsync(cancellationToken).WaitAsync(MoveLimit, cancellationToken);
                return (true, true, why);
            }
            catch (Exception e) when (e is MoveException or InvalidOperationException or TimeoutException)
            {
                why = e.Message;
            }
        }

        return (false, true, why);
    }

    // A seeded range of one pair's slots (within one of its ranges) and another pair to move them to.
    private (int First, int Last, string From, string To) PickMove(ClusterMap map)
    {
        List<SlotRange> ranges = [.. map.Ranges.Where(r => r.Count >= 16)];
        SlotRange range = ranges[_random.Next(ranges.Count)];
        int count = _random.Next(16, Math.Min(MostSlotsPerMove, range.Count) + 1);
        int first = range.First + _random.Next(range.Count - count + 1);
        List<string> others = [.. map.Pairs.Select(p => p.Id).Where(id => id != range.PairId)];
        return (first, first + count - 1, range.PairId, others[_random.Next(others.Count)]);
    }

    private static bool StateIs(ClusterMap map, int first, int last, string owner)
    {
        for (int slot = first; slot <= last; slot++)
        {
            if (map.Owner(slot).Id != owner)
            {
                return false;
            }
        }

        return true;
    }

    private void PrintSummary(int cycles, ClusterLoad load, SlotMover mover, List<double> promotions, Dictionary<string, int> victims, int resumed, int done, int? lost, long redirects)
    {
        List<double> sorted = [.. promotions.Order()];
        string Percentile(double p) => sorted.Count == 0 ? "-" : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)].ToString("F0", CultureInfo.InvariantCulture);
        string Failures(string kind) => string.Join(", ", load.Failures.Where(f => f.Key.StartsWith(kind, StringComparison.Ordinal)).OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Key[(kind.Length + 1)..]}: {f.Value:N0}"));
        Say("summary");
        Line("mode", "cluster");
        Line("cycles", $"{cycles}{(cycles < options.Cycles ? $" of {options.Cycles}" : "")} ({victims.Values.Sum()} primary kills: {victims["source"]} source, {victims["target"]} target, {victims["bystander"]} bystander; {promotions.Count} healed)");
        Line("moves", $"{done} done ({resumed} resumed after the kill stopped them); {mover.Stats.Describe()}");
        Line("promotion", $"p50 {Percentile(0.5)} ms, p99 {Percentile(0.99)} ms, max {Percentile(1)} ms (kill to the survivor serving as primary)");
        Line("acknowledged writes", $"{load.Acknowledged:N0}");
        Line("writes failed", $"{load.FailedWrites:N0}{(load.FailedWrites == 0 ? "" : $" ({Failures("write")}; not acknowledged, so not counted)")}");
        Line("reads", $"{load.Reads:N0}; {redirects:N0} redirections followed");
        Line("reads failed", $"{load.FailedReads:N0}{(load.FailedReads == 0 ? "" : $" ({Failures("read")})")}");
        Line("stale reads", $"{load.StaleReads}");
        Line("foreign reads", $"{load.ForeignReads}");
        Line("writes lost", lost is { } l ? $"{l}" : "not checked");
    }

    private void Line(string name, string value) => Say($"  {name,-20} {value}");

    private TextWriter? NodeLog(NodeAddress address) => NodeLogFile($"node-{address.Listen.Port}.log");

    private TextWriter? NodeLogFile(string file)
    {
        if (options.NodeLogs is null)
        {
            return null;
        }

        if (!_logs.TryGetValue(file, out TextWriter? writer))
        {
            // One writer per file: a restarted node appends to its predecessor's log.
            Directory.CreateDirectory(options.NodeLogs);
            writer = _logs[file] = TextWriter.Synchronized(new StreamWriter(Path.Combine(options.NodeLogs, file), append: true) { AutoFlush = true });
        }

        return writer;
    }

    private void Say(string line)
    {
        lock (output)
        {
            output.WriteLine($"[{_clock.Elapsed.TotalSeconds,6:F1} s] {line}");
        }
    }
}
