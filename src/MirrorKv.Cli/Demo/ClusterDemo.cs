using System.Diagnostics;
using MirrorKv.Adapter;
using MirrorKv.Cli.Cluster;
using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.Cli.Demo;

/// <summary>
/// The main job across a cluster (<c>demo --cluster N</c>): etcd and N pairs as child processes (as <c>cluster up</c>
/// starts them), the checked read/write workload through <see cref="MirrorKvClusterClient"/> given one node, a move of
/// slots from the first pair to the second (as <c>cluster move</c> does it), kill -9 of the first pair's primary while
/// the move runs, the killed node restarted as a secondary, and every acknowledged write read back by a fresh client.
/// Each pair's keys are counted apart, with the longest time in which none of them was read (written) before and
/// after the kill: the pairs not involved show no stall. Exits 1 when a check fails.
/// </summary>
internal sealed class ClusterDemo(ClusterDemoOptions options, TextWriter output)
{
    // Each node's region: the default load takes a few MiB of it on the pair that holds most.
    private const string RegionSize = "64m";
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private volatile string _phase = "every pair protected";

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        Say($"MirrorKv cluster demo: etcd and {options.Pairs} pairs as child processes, a read/write workload through MirrorKvClusterClient, a slot move, and kill -9 of a primary while it runs.");
        LocalCluster cluster;
        try
        {
            cluster = await LocalCluster.StartAsync(options.Pairs, 0, "demo", RegionSize, etcdUrls: null, nodeLogs: null, output, cancellationToken);
        }
        catch (LocalClusterException e)
        {
            Say($"error: {e.Message}");
            return 2;
        }

        await using (cluster)
        {
            Say($"{Now} {options.Pairs} pairs ready");
            return await RunAsync(cluster, cancellationToken);
        }
    }

    private async Task<int> RunAsync(LocalCluster cluster, CancellationToken cancellationToken)
    {
        LocalPair source = cluster.Pairs[0], target = cluster.Pairs[1];
        foreach (LocalPair pair in cluster.Pairs)
        {
            string ranges = string.Join(", ", cluster.Map.Ranges.Where(r => r.PairId == pair.Id).Select(r => $"{r.First}-{r.Last}"));
            Say($"pair {pair.Id}: slots {ranges}: primary {pair.Primary.EndPoint}, secondary {pair.Secondary.EndPoint}");
        }

        // Given one node only (any will do): the client learns the map and every pair from it.
        await using MirrorKvClusterClient client = await MirrorKvClusterClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [cluster.Pairs[^1].Secondary.EndPoint] }, cancellationToken);
        foreach (LocalPair pair in cluster.Pairs)
        {
            if (!await client.PairClient(pair.Id)!.WaitForSecondaryAsync(cancellationToken))
            {
                Say($"the client could not reach pair {pair.Id}'s secondary");
                return 1;
            }
        }

        MirrorKvClient sourceClient = client.PairClient(source.Id)!;
        sourceClient.PathChanged += path => Say(path switch
        {
            ClientPath.FailingOver => $"{Now} client of {source.Id}: primary lost; reads go to the secondary as FAILOVER_READ with the primary's pointers",
            ClientPath.Secondary => $"{Now} client of {source.Id}: reads are one-sided at the secondary with translated pointers",
            _ => $"{Now} client of {source.Id}: the secondary was promoted (epoch {sourceClient.Epoch}); writes go to it",
        });

        int moved = Math.Min(options.MovedSlots, cluster.Map.SlotsOf(source.Id));
        var workload = new Workload(options.Keys, options.ValueSize, line => Say($"{Now} {line}"));
        WorkloadGroup[] groups =
        [
            new(source.Id), new($"{source.Id}->{target.Id}"),
            .. cluster.Pairs.Skip(1).Select(p => new WorkloadGroup(p.Id)),
        ];
        int[] keysOf = new int[groups.Length];
        workload.SetGroups(groups, i =>
        {
            int slot = HashSlot.Of(Workload.Key(i));
            int owner = cluster.Map.OwnerIndex(slot);
            int group = slot < moved ? 1 : owner == 0 ? 0 : owner + 1;
            keysOf[group]++;
            return group;
        });
        IWorkloadTarget through = WorkloadTarget.Of(client);
        if (!await workload.TryLoadAsync(through, cancellationToken))
        {
            Say($"error: the store is full (OutOfMemory): {options.Keys:N0} keys of {options.ValueSize:N0} B do not fit the demo nodes' --region-size {RegionSize}; use fewer --keys or a smaller --value-size");
            return 2;
        }

        Say($"{Now} loaded {options.Keys:N0} keys of {options.ValueSize} B: {string.Join(", ", groups.Select((g, i) => $"{keysOf[i]:N0} {Describe(g, i)}"))}");

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        workload.Mark();
        // A reader and a writer per pair's keys (and the moving keys'): a stall in one group holds up no other.
        Task[] workers = workload.Start(through, readers: 1, writers: 1, stop.Token);
        Task progress = ProgressAsync(client, workload, stop.Token);
        await Task.Delay(options.BeforeMove, cancellationToken);

        // The kill lands when the second batch's copy begins: the first has moved, the rest are to come.
        int batches = (moved + options.BatchSlots - 1) / options.BatchSlots;
        int copies = 0;
        var killNow = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var moverLog = new LineWriter(line =>
        {
            Say($"{Now} mover: {line}");
            if (line.Contains($"copy from {source.Id}", StringComparison.Ordinal) && Interlocked.Increment(ref copies) == Math.Min(2, batches))
            {
                killNow.TrySetResult();
            }
        });
        using ClusterDirectory directory = cluster.Directory();
        var mover = new SlotMover(directory, null, moverLog) { BatchSlots = options.BatchSlots };
        _phase = "moving slots";
        Say($"{Now} moving slots 0-{moved - 1} from {source.Id} to {target.Id} in {batches} batches (as: mirrorkv cluster move --etcd {cluster.EtcdUrls} --name {cluster.Name} --slots 0-{moved - 1} --to {target.Id} --batch-slots {options.BatchSlots})");
        Task move = Task.Run(() => mover.MoveAsync(0, moved - 1, target.Id, cancellationToken), CancellationToken.None);
        await Task.WhenAny(killNow.Task, move);

        (double Read, double Write)[] before = [.. groups.Select(workload.LongestGaps)];
        Say($"{Now} kill -9 of {source.Id}'s primary {source.Primary.EndPoint}{(move.IsCompleted ? " after the move ended" : " while the move runs")}");
        await source.Primary.Process!.KillAsync();
        workload.Mark();
        _phase = $"{source.Id}'s primary killed, moving slots";

        var failures = new List<string>();
        try
        {
            await move.WaitAsync(TimeSpan.FromMinutes(2), cancellationToken);
            Say($"{Now} mover: {mover.Stats.Describe()}");
        }
        catch (Exception e) when (e is MoveException or InvalidOperationException or TimeoutException or MirrorKvException)
        {
            failures.Add($"the move did not finish: {e.Message}");
        }

        _phase = $"move over, {source.Id} unprotected";
        double rejoinMs = double.NaN;
        try
        {
            var rejoin = Stopwatch.StartNew();
            Say($"{Now} restarting {source.Id}'s killed node as a secondary of {source.Secondary.EndPoint}");
            Task caughtUp = await cluster.RestartAsSecondaryAsync(source, source.Primary, source.Secondary.EndPoint);
            await caughtUp.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
            rejoinMs = rejoin.Elapsed.TotalMilliseconds;
            _phase = "every pair protected again";
            Say($"{Now} the restarted node copied {source.Id}'s slabs and caught up in {rejoinMs:F0} ms: {source.Id} is protected again");
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            failures.Add($"{source.Id}'s killed node did not rejoin: {e.Message}");
        }

        await Task.Delay(options.AfterMove, cancellationToken);
        (double Read, double Write)[] after = [.. groups.Select(workload.LongestGaps)];
        await stop.CancelAsync();
        await Task.WhenAll(workers);
        await progress;

        // A fresh client, given another node, reads every key back from wherever the map now puts it.
        await using MirrorKvClusterClient auditor = await MirrorKvClusterClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [target.Secondary.EndPoint] }, cancellationToken);
        int lost = await workload.VerifyAsync(WorkloadTarget.Of(auditor), cancellationToken);
        ClusterMap final = (await directory.ReadAsync(cancellationToken)).Map!;

        var rows = new List<ClusterDemoSummary.PairRow>();
        for (int g = 0; g < groups.Length; g++)
        {
            // The moving keys belong to no one pair's epoch: they changed pairs.
            ulong epoch = g == 1 ? 0 : client.PairClient(g == 0 ? source.Id : groups[g].Name)?.Epoch ?? 0;
            rows.Add(new ClusterDemoSummary.PairRow(groups[g], Describe(groups[g], g), keysOf[g], before[g], after[g], epoch));
        }

        var summary = new ClusterDemoSummary(workload, lost, mover.Stats, rejoinMs, final.Version, client.Redirects, client.MapRefreshes, rows);
        failures.AddRange(Checks(summary, final, moved, source.Id, target.Id));
        summary.Print(Say, failures);
        if (options.Json)
        {
            Say(summary.ToJson(failures));
        }

        return failures.Count == 0 ? 0 : 1;
    }

    // What must hold, each failure in words: nothing lost, no bad or failed read, the move done, and the pairs other
    // than the one whose primary was killed never failed a write nor changed their primary.
    private static IEnumerable<string> Checks(ClusterDemoSummary summary, ClusterMap final, int moved, string source, string target)
    {
        if (summary.Lost > 0)
        {
            yield return $"{summary.Lost} keys lost an acknowledged write";
        }

        if (summary.Workload.BadReads > 0)
        {
            yield return $"{summary.Workload.BadReads} reads returned a torn, stale or foreign value";
        }

        if (summary.Workload.FailedReads > 0)
        {
            yield return $"{summary.Workload.FailedReads} reads failed";
        }

        if (final.HasMigrations || final.Owner(0).Id != target || final.Owner(moved - 1).Id != target || final.Owner(moved).Id != source)
        {
            yield return $"the map does not show slots 0-{moved - 1} moved to {target}: {final}";
        }

        foreach (ClusterDemoSummary.PairRow row in summary.Pairs.Skip(2))
        {
            if (row.Group.FailedWrites > 0 || row.Epoch != 1)
            {
                yield return $"pair {row.Group.Name} noticed: {row.Group.FailedWrites} writes failed, epoch {row.Epoch}";
            }
        }
    }

    private static string Describe(WorkloadGroup group, int index) => index switch
    {
        0 => $"at {group.Name} (its primary is killed)",
        1 => $"moving {group.Name}",
        2 => $"at {group.Name} (takes the slots)",
        _ => $"at {group.Name} (not involved)",
    };

    private string Now => $"[{_clock.Elapsed.TotalSeconds,5:F2} s]";

    private async Task ProgressAsync(MirrorKvClusterClient client, Workload workload, CancellationToken stop)
    {
        long lastReads = 0, lastWrites = 0;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(1000, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            long reads = workload.Reads, writes = workload.Writes;
            Say($"{Now} {reads - lastReads,8:N0} reads/s {writes - lastWrites,7:N0} writes/s   {_phase}, client's map version {client.Map?.Version}");
            (lastReads, lastWrites) = (reads, writes);
        }
    }

    private void Say(string line)
    {
        lock (output)
        {
            output.WriteLine(line);
        }
    }
}
