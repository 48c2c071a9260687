using System.Globalization;
using MirrorKv.Adapter;
using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// Slots moved between the live pairs of a real cluster (real processes, a real etcd) while clients write and read:
/// <c>mirrorkv cluster move</c>, <c>add-pair</c> (then rebalance) and <c>remove-pair</c> run as an operator runs them;
/// no write fails (they stall while their slot is fenced), none acknowledged is lost, no read returns less than
/// what was acknowledged before it began; a source primary killed in the middle of a move, and a mover killed in
/// the middle of one and run again, change none of that.
/// </summary>
[Collection(nameof(ProcessTests))]
public class ClusterMoveProcessTests
{
    private static readonly TimeSpan MoveLimit = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task MoveAddPairRemovePair_UnderWritesAndReads_WritesStallButNeverFail_NothingLost_NoStaleRead()
    {
        await using ProcessCluster cluster = await ProcessCluster.StartAsync(pairs: 3, spares: 1);
        await using MirrorKvClusterClient writeClient = await MirrorKvClusterClient.ConnectAsync(cluster.ClientOptions());
        await using MirrorKvClusterClient readClient = await MirrorKvClusterClient.ConnectAsync(cluster.ClientOptions(cluster.Pairs[2].Secondary));
        MovingLoad load = MovingLoad.Spread(300);
        using var stop = new CancellationTokenSource();
        Task running = load.RunAsync(writeClient, readClient, writers: 4, readers: 2, stop.Token);
        await Waits.UntilAsync(() => load.Acknowledged > 600 && load.Reads > 600, "the load to get going", 60);

        // p1's first 3,000 slots to p2, in batches of 500.
        string moved = await RunAsync(cluster.Cluster("move", "--slots", "0-2999", "--to", "p2", "--batch-slots", "500"));
        Assert.Contains("moved 3000 slots", moved, StringComparison.Ordinal);
        await AssertMapAsync(cluster, map => map.Owner(0).Id == "p2" && map.Owner(2999).Id == "p2" && map.Owner(3000).Id == "p1");

        // A pair joins and gets an even share; then p1 leaves, its slots spread over the others.
        (string spareId, NodeProcess sparePrimary, NodeProcess spareSecondary) = cluster.Spares[0];
        long before = load.Acknowledged;
        string added = await RunAsync(cluster.Cluster("add-pair", "--id", spareId, "--members", $"{sparePrimary.EndPoint},{spareSecondary.EndPoint}", "--batch-slots", "1024"));
        Assert.Contains($"pair {spareId} added", added, StringComparison.Ordinal);
        await AssertMapAsync(cluster, map => map.Pairs.All(p => map.SlotsOf(p.Id) is 4096));
        Assert.True(load.Acknowledged > before, "no write was acknowledged during the rebalance");
        string removed = await RunAsync(cluster.Cluster("remove-pair", "--id", "p1", "--batch-slots", "1024"));
        Assert.Contains("pair p1 removed", removed, StringComparison.Ordinal);
        ClusterMap final = await AssertMapAsync(cluster, map => map.IndexOf("p1") < 0 && map.Pairs.All(p => map.SlotsOf(p.Id) is 5461 or 5462));

        // Writes and reads go on at the new owners.
        long after = load.Acknowledged;
        await Waits.UntilAsync(() => load.Acknowledged > after + 300, "writes to go on after the moves", 60);
        await stop.CancelAsync();
        await running;

        Assert.True(load.Errors.IsEmpty, $"{load.Errors.Count} operations failed: {string.Join(" | ", load.Errors.Take(3))}");
        Assert.True(load.StaleReads.IsEmpty, $"{load.StaleReads.Count} stale reads: {string.Join(" | ", load.StaleReads.Take(3))}");
        Assert.True(writeClient.Redirects > 0, "no write was ever redirected: the moves were not under load");
        await using (MirrorKvClusterClient auditor = await MirrorKvClusterClient.ConnectAsync(cluster.ClientOptions(cluster.Spares[0].Secondary)))
        {
            Assert.Equal(final.Version, auditor.Map!.Version);
            await load.AuditAsync(auditor);
        }

        // p1 gave everything away, on both of its nodes (its deletes went through its replication).
        Assert.Equal(0UL, (await MirrorKvAdmin.GetStatusAsync(cluster.Pairs[0].Primary.EndPoint)).Entries);
        await Waits.UntilAsync(async () => (await MirrorKvAdmin.GetStatusAsync(cluster.Pairs[0].Secondary.EndPoint)).Entries == 0, "p1's secondary to hold no entry");

        (double p99, double max, int count) = load.Stall(_ => true);
        TestContext.Current.TestOutputHelper?.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"slot moves under load: {count} writes, latency p99 {p99:F0} ms, max {max:F0} ms; {writeClient.Redirects} redirections; mover: {Summary(moved)} | {Summary(added)} | {Summary(removed)}"));
    }

    [Fact]
    public async Task SourcePrimaryKilled_InTheMiddleOfAMove_TheMoveFinishesAtThePromotedSecondary_NothingLost_NoStaleRead()
    {
        await using ProcessCluster cluster = await ProcessCluster.StartAsync(pairs: 3);
        await using MirrorKvClusterClient writeClient = await MirrorKvClusterClient.ConnectAsync(cluster.ClientOptions());
        await using MirrorKvClusterClient readClient = await MirrorKvClusterClient.ConnectAsync(cluster.ClientOptions(cluster.Pairs[2].Primary));
        MovingLoad load = MovingLoad.Spread(300);
        using var stop = new CancellationTokenSource();
        Task running = load.RunAsync(writeClient, readClient, writers: 4, readers: 2, stop.Token);
        await Waits.UntilAsync(() => load.Acknowledged > 600, "the load to get going", 60);

        // All of p1's slots to p2 in small batches; p1's primary is killed once the second batch is under way.
        await using CliProcess mover = cluster.Cluster("move", "--slots", "0-5461", "--to", "p2", "--batch-slots", "256");
        await Waits.UntilAsync(() => mover.Stdout.Split("copy from p1").Length > 2, "the mover to start its second batch", 120);
        await cluster.Pairs[0].Primary.KillAsync();
        Assert.Equal(0, await mover.WaitForExitAsync(MoveLimit));
        Assert.Contains("moved 5462 slots", mover.Stdout, StringComparison.Ordinal);
        NodeStatus heir = await MirrorKvAdmin.GetStatusAsync(cluster.Pairs[0].Secondary.EndPoint);
        Assert.Equal((NodeRole.Primary, 2UL), (heir.Role, heir.Epoch));
        await AssertMapAsync(cluster, map => map.SlotsOf("p1") == 0 && map.SlotsOf("p2") == 5462 + 5461);

        long after = load.Acknowledged;
        await Waits.UntilAsync(() => load.Acknowledged > after + 300, "writes to go on after the move", 60);
        await stop.CancelAsync();
        await running;

        // A write in flight at the killed primary may fail as Unavailable (as in any failover); nothing else may.
        Assert.All(load.Errors, e => Assert.StartsWith($"{MirrorKvError.Unavailable}/", e, StringComparison.Ordinal));
        Assert.True(load.StaleReads.IsEmpty, $"{load.StaleReads.Count} stale reads: {string.Join(" | ", load.StaleReads.Take(3))}");
        await using MirrorKvClusterClient auditor = await MirrorKvClusterClient.ConnectAsync(cluster.ClientOptions(cluster.Pairs[1].Secondary));
        await load.AuditAsync(auditor);
        Assert.Equal(0UL, heir.Entries);
    }

    [Fact]
    public async Task MoverKilled_InTheMiddleOfAMove_LeavesTheFenceInTheMap_AndRunAgainFinishesIt()
    {
        await using ProcessCluster cluster = await ProcessCluster.StartAsync(pairs: 3);
        await using MirrorKvClusterClient writeClient = await MirrorKvClusterClient.ConnectAsync(cluster.ClientOptions());
        await using MirrorKvClusterClient readClient = await MirrorKvClusterClient.ConnectAsync(cluster.ClientOptions(cluster.Pairs[1].Primary));
        MovingLoad load = MovingLoad.Spread(300);
        using var stop = new CancellationTokenSource();
        Task running = load.RunAsync(writeClient, readClient, writers: 4, readers: 2, stop.Token);
        await Waits.UntilAsync(() => load.Acknowledged > 600, "the load to get going", 60);

        ClusterMap stopped;
        await using (CliProcess mover = cluster.Cluster("move", "--slots", "10923-16383", "--to", "p1", "--batch-slots", "4096"))
        {
            await Waits.UntilAsync(() => mover.Stdout.Contains("copy from p3", StringComparison.Ordinal), "the mover to fence its first batch", 120);
        }

        using (ClusterDirectory directory = cluster.Directory())
        {
            stopped = (await directory.ReadAsync()).Map!;
        }

        Assert.True(stopped.HasMigrations, $"the mover was killed with no move under way: {stopped}");
        string resumed = await RunAsync(cluster.Cluster("move", "--slots", "10923-16383", "--to", "p1", "--batch-slots", "4096"));
        Assert.Contains("resuming the move of slots 10923-15018 from p3 to p1", resumed, StringComparison.Ordinal);

        // The killed run's fence is not this run's to time: the resumed batch is reported apart, not as a short fence.
        Assert.Contains("slots 10923-15018: p3 -> p1 done at map version", resumed, StringComparison.Ordinal);
        Assert.Contains("writes fenced since the run that stopped", resumed, StringComparison.Ordinal);
        Assert.Contains("in 2 batches", resumed, StringComparison.Ordinal);
        Assert.Contains("1 of them resumed", resumed, StringComparison.Ordinal);
        await AssertMapAsync(cluster, map => !map.HasMigrations && map.SlotsOf("p3") == 0 && map.SlotsOf("p1") == 5462 + 5461);

        long after = load.Acknowledged;
        await Waits.UntilAsync(() => load.Acknowledged > after + 300, "writes to go on after the move", 60);
        await stop.CancelAsync();
        await running;

        // While no mover ran, the fenced slots' writes waited; a wait longer than the client's (about 4.8 s) fails as Moved.
        Assert.All(load.Errors, e => Assert.Contains($"/{WireStatus.Moved}:", e, StringComparison.Ordinal));
        Assert.True(load.StaleReads.IsEmpty, $"{load.StaleReads.Count} stale reads: {string.Join(" | ", load.StaleReads.Take(3))}");
        await using MirrorKvClusterClient auditor = await MirrorKvClusterClient.ConnectAsync(cluster.ClientOptions(cluster.Pairs[0].Secondary));
        await load.AuditAsync(auditor);
    }

    [Fact]
    public async Task SlotRequests_AtANodeWhoseMapDoesNotAllowThem_AreRefusedWithTheReason()
    {
        await using ProcessCluster cluster = await ProcessCluster.StartAsync(pairs: 2);
        (_, NodeProcess a, NodeProcess aSecondary) = cluster.Pairs[0];
        (_, NodeProcess b, NodeProcess bSecondary) = cluster.Pairs[1];
        string[] keys = [.. Enumerable.Range(0, 100_000).Select(i => $"m-{i}").Where(k => HashSlot.Of(k) < 100).Take(20)];
        string foreign = Enumerable.Range(0, 100_000).Select(i => $"f-{i}").First(k => HashSlot.Of(k) is > 100 and < 8000);
        await using (MirrorKvClient writer = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [a.EndPoint, aSecondary.EndPoint] }))
        {
            foreach (string key in keys)
            {
                await writer.SetAsync(key, System.Text.Encoding.UTF8.GetBytes($"v-{key}"));
            }

            // One entry larger than the default 4 MiB frame: pages are sized for the nodes' largest entry, not the default.
            await writer.SetAsync(keys[^1], new byte[5 << 20]);
        }

        await using SlotTransferConnection source = await SlotTransferConnection.ConnectAsync(a.EndPoint);
        await using SlotTransferConnection sourceSecondary = await SlotTransferConnection.ConnectAsync(aSecondary.EndPoint);
        await using SlotTransferConnection target = await SlotTransferConnection.ConnectAsync(b.EndPoint);
        await using SlotTransferConnection targetSecondary = await SlotTransferConnection.ConnectAsync(bSecondary.EndPoint);
        async Task RefusedAsync(WireStatus status, Func<Task> call, string? text = null)
        {
            MirrorKvException e = await Assert.ThrowsAsync<MirrorKvException>(call);
            Assert.Equal(status, e.WireStatus);
            Assert.Contains(text ?? "", e.Message, StringComparison.Ordinal);
        }

        // Nothing moves yet: no export; and a secondary serves none of it.
        await RefusedAsync(WireStatus.SlotsNotMoving, () => source.ExportAsync(0, 99, 0), "map version 1: slot 0 is not moving away from pair p1");
        await RefusedAsync(WireStatus.NotPrimary, () => sourceSecondary.ExportAsync(0, 99, 0));

        // Copy: the source pages its entries out, the target takes them; writes at the source are fenced, reads go on.
        await cluster.PublishAsync(cluster.Map.WithSlots(2, 0, 99, "p1", "p2", MigrationPhase.Copy));
        await RefusedAsync(WireStatus.TooLong, () => source.ExportAsync(0, 99, 0, maxBytes: 100));
        await RefusedAsync(WireStatus.MalformedFrame, () => source.ExportAsync(10, 5, 0));
        await RefusedAsync(WireStatus.SlotsNotMoving, () => source.ExportAsync(0, 100, 0), "slot 100");
        SlotPage page = await source.ExportAsync(0, 99, 0);
        Assert.Equal(20, page.Count);

        // A page stops once it has no room left for a largest entry; the scan's end is then a page of its own.
        if (page.NextCursor != 0)
        {
            SlotPage rest = await source.ExportAsync(0, 99, page.NextCursor);
            Assert.Equal((0, 0UL), (rest.Count, rest.NextCursor));
        }
        await RefusedAsync(WireStatus.SlotsNotMoving, () => source.RetireAsync(0, 99, 0), "in phase handoff");
        await RefusedAsync(WireStatus.SlotsNotMoving, () => source.ImportAsync(0, 99, page), "not moving into pair p1");
        await RefusedAsync(WireStatus.NotPrimary, () => targetSecondary.ImportAsync(0, 99, page));
        var foreignEntry = new byte[SlotTransferMessages.EntrySize(foreign.Length, 1)];
        SlotTransferMessages.WriteEntry(foreignEntry, System.Text.Encoding.UTF8.GetBytes(foreign), "x"u8);
        await RefusedAsync(WireStatus.MalformedFrame, () => target.ImportAsync(0, 99, new SlotPage(0, 1, foreignEntry)), $"holds a key of slot {HashSlot.Of(foreign)}");
        Assert.Equal(20, await target.ImportAsync(0, 99, page));
        Assert.Equal(20UL, (await MirrorKvAdmin.GetStatusAsync(bSecondary.EndPoint)).Entries);

        await using (MirrorKvClient pairClient = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [a.EndPoint, aSecondary.EndPoint] }))
        {
            MirrorKvException fenced = await Assert.ThrowsAsync<MirrorKvException>(async () => await pairClient.SetAsync(keys[0], "new"u8.ToArray()));
            Assert.True(Redirect.TryParse(fenced.Message, out Redirect? redirect), fenced.Message);
            Assert.Equal(("p2", 2UL, b.EndPoint), (redirect!.PairId, redirect.MapVersion, redirect.EndPoint));
            Assert.Equal($"v-{keys[0]}", System.Text.Encoding.UTF8.GetString((await pairClient.GetAsync(keys[0]))!));
        }

        // Handoff: the source answers no read of the slots, and deletes them through its replication.
        await cluster.PublishAsync(cluster.Map.WithSlots(2, 0, 99, "p1", "p2", MigrationPhase.Copy).WithSlots(3, 0, 99, "p1", "p2", MigrationPhase.Handoff));
        await using (MirrorKvClient pairClient = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [a.EndPoint, aSecondary.EndPoint] }))
        {
            Assert.Equal(WireStatus.Moved, (await Assert.ThrowsAsync<MirrorKvException>(async () => await pairClient.GetAsync(keys[1]))).WireStatus);
        }

        await RefusedAsync(WireStatus.NotPrimary, () => sourceSecondary.RetireAsync(0, 99, 0));
        await RefusedAsync(WireStatus.MalformedFrame, () => source.RetireAsync(0, 99, 0, maxEntries: 0));
        Assert.Equal((0UL, 20), await source.RetireAsync(0, 99, 0));
        Assert.Equal(0UL, (await MirrorKvAdmin.GetStatusAsync(a.EndPoint)).Entries);
        await Waits.UntilAsync(async () => (await MirrorKvAdmin.GetStatusAsync(aSecondary.EndPoint)).Entries == 0, "the source's secondary to apply the deletes");
    }

    private static async Task<string> RunAsync(CliProcess cli)
    {
        await using (cli)
        {
            int code = await cli.WaitForExitAsync(MoveLimit);
            Assert.True(code == 0, $"exit {code}: {cli.Stderr}\n{cli.Stdout}");
            return cli.Stdout;
        }
    }

    // The map in etcd satisfies the condition, and every live node serves it.
    private static async Task<ClusterMap> AssertMapAsync(ProcessCluster cluster, Func<ClusterMap, bool> condition)
    {
        ClusterMap map;
        using (ClusterDirectory directory = cluster.Directory())
        {
            map = (await directory.ReadAsync()).Map!;
        }

        Assert.False(map.HasMigrations, $"a move is left under way: {map}");
        Assert.True(condition(map), map.ToString());
        foreach (NodeProcess node in cluster.Nodes.Concat(cluster.Spares.SelectMany(s => new[] { s.Primary, s.Secondary })).Where(n => !n.HasExited))
        {
            await Waits.UntilAsync(async () => (await MirrorKvAdmin.GetClusterMapAsync(node.EndPoint))!.Version >= map.Version, $"{node.EndPoint} to serve map version {map.Version}");
        }

        return map;
    }

    private static string Summary(string stdout) => stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.StartsWith("moved ", StringComparison.Ordinal)) ?? "?";

    [Fact]
    public async Task Move_WithABadEtcdWait_IsRefused_AndWithAnEtcdThatNeverAnswers_StopsOnceTheWaitIsOver()
    {
        string etcd = $"http://127.0.0.1:{Ports.Free()}";
        (int code, string stdout, string stderr) = await CliProcess.RunAsync("cluster", "move", "--etcd", etcd, "--slots", "0-9", "--to", "p2", "--etcd-wait", "-1");
        Assert.Equal(2, code);
        Assert.Contains("--etcd-wait must be 0 to 3600 seconds; got -1", stderr, StringComparison.Ordinal);

        // Nothing listens there: the mover asks for about a second, says so, and stops with the resumable exit code.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        (code, stdout, stderr) = await CliProcess.RunAsync("cluster", "move", "--etcd", etcd, "--slots", "0-9", "--to", "p2", "--etcd-wait", "1");
        Assert.True(code == 3, $"exit {code}: {stderr}\n{stdout}");
        Assert.Contains("etcd does not answer", stdout, StringComparison.Ordinal);
        Assert.Contains("--etcd-wait", stderr, StringComparison.Ordinal);
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));
    }
}
