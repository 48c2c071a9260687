using System.Text;
using MirrorKv.Adapter;
using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// Faults in the middle of slot moves of a real cluster (real processes, a real etcd, the mover run as the
/// <c>mirrorkv</c> command) under writers and readers: the source's or the target's primary paused with SIGSTOP
/// past its lease (its pair fails over, the move goes on at the new primary), etcd paused in the middle of a rebalance
/// for less than the mover's patience (it waits and goes on) or for more (it stops with the fence in the map; run
/// again, it finishes); and after a move, the source refusing the
/// keys it gave away while a client holding the old map and old pointers finds every value at the new owner. In each,
/// every acknowledged write is read back at the end and no read returns less than what was acknowledged before it.
/// </summary>
[Collection(nameof(ProcessTests))]
public class ClusterFaultProcessTests
{
    private static readonly TimeSpan MoveLimit = TimeSpan.FromMinutes(4);

    // Longer than the pair's lease (2 s) and the secondary's promotion: the paused primary's pair fails over.
    private static readonly TimeSpan PastTheLease = TimeSpan.FromSeconds(4);

    [Fact]
    public Task SourcePrimaryPaused_InTheMiddleOfAMove_ItsPairFailsOver_TheMoveFinishes_NothingLost_NoStaleRead() =>
        PausePrimaryDuringMoveAsync(pausedPair: 0);

    [Fact]
    public Task TargetPrimaryPaused_InTheMiddleOfAMove_ItsPairFailsOver_TheMoveFinishes_NothingLost_NoStaleRead() =>
        PausePrimaryDuringMoveAsync(pausedPair: 1);

    [Fact]
    public Task EtcdPaused_InTheMiddleOfARebalance_PastTheMoversPatience_ItStopsWithTheFenceInTheMap_RunAgainItFinishes_NothingLost_NoStaleRead() =>
        PauseEtcdDuringRebalanceAsync(pastPatience: true);

    [Fact]
    public Task EtcdPaused_InTheMiddleOfARebalance_WithinTheMoversPatience_ItWaitsAndFinishes_NothingLost_NoStaleRead() =>
        PauseEtcdDuringRebalanceAsync(pastPatience: false);

    // The spare joins and a rebalance starts under load; etcd stands still (SIGSTOP) in the middle of it, for longer
    // than the mover's --etcd-wait (it stops, and is run again) or for less (it waits, then goes on by itself).
    private static async Task PauseEtcdDuringRebalanceAsync(bool pastPatience)
    {
        await using ProcessCluster cluster = await ProcessCluster.StartAsync(pairs: 3, spares: 1);
        await using MirrorKvClusterClient writeClient = await MirrorKvClusterClient.ConnectAsync(cluster.ClientOptions());
        await using MirrorKvClusterClient readClient = await MirrorKvClusterClient.ConnectAsync(cluster.ClientOptions(cluster.Pairs[2].Secondary));
        MovingLoad load = MovingLoad.Spread(300);
        using var stop = new CancellationTokenSource();
        Task running = load.RunAsync(writeClient, readClient, writers: 4, readers: 2, stop.Token);
        await Waits.UntilAsync(() => load.Acknowledged > 600, "the load to get going", 60);

        // The spare joins and the rebalance starts (4,096 slots in batches of 128); etcd stops in the middle of it.
        (string spareId, NodeProcess sparePrimary, NodeProcess spareSecondary) = cluster.Spares[0];
        string members = $"{sparePrimary.EndPoint},{spareSecondary.EndPoint}";
        await using (CliProcess mover = cluster.Cluster("add-pair", "--id", spareId, "--members", members, "--batch-slots", "128", "--etcd-wait", pastPatience ? "2" : "60"))
        {
            await Waits.UntilAsync(() => mover.Stdout.Split("copy from").Length > 3, "the mover to fence its third batch", 120, () => $"{mover.Stdout}\n{mover.Stderr}");
            await cluster.Etcd.PauseAsync();
            try
            {
                if (pastPatience)
                {
                    // The mover cannot write its next map: it stops, saying the fence stays until it is run again.
                    Assert.Equal(3, await mover.WaitForExitAsync(MoveLimit));
                    Assert.Contains("run again", mover.Stderr, StringComparison.Ordinal);
                }
                else
                {
                    await Waits.UntilAsync(() => mover.Stdout.Contains("etcd does not answer", StringComparison.Ordinal), "the mover to find etcd silent", 60, () => $"{mover.Stdout}\n{mover.Stderr}");
                }

                // Nodes serve by the last map they saw: writes of the slots not moving go on without etcd.
                long during = load.Acknowledged;
                await Waits.UntilAsync(() => load.Acknowledged > during + 200, "writes to go on while etcd stands still", 60);
            }
            finally
            {
                await cluster.Etcd.ResumeAsync();
            }

            if (!pastPatience)
            {
                // Waited out: the same run goes on from the fence the map holds and finishes every move.
                int code = await mover.WaitForExitAsync(MoveLimit);
                Assert.True(code == 0, $"exit {code}: {mover.Stderr}\n{mover.Stdout}");
                Assert.Contains("etcd answers again", mover.Stdout, StringComparison.Ordinal);
            }
        }

        if (pastPatience)
        {
            // The operator waits for etcd to answer again (just after SIGCONT it may still be busy with the leases that
            // ran out while it stood still), then runs the rebalance again: it resumes the move the map shows first.
            using (ClusterDirectory directory = cluster.Directory())
            {
                ClusterMap? stopped = null;
                await Waits.UntilAsync(async () =>
                {
                    try
                    {
                        stopped = (await directory.ReadAsync()).Map;
                        return true;
                    }
                    catch (InvalidOperationException)
                    {
                        return false;
                    }
                }, "etcd to answer again", 60);
                Assert.True(stopped!.HasMigrations, $"no move was left under way: {stopped}");
            }

            string resumed = await RunAsync(cluster.Cluster("rebalance", "--batch-slots", "1024"));
            Assert.Contains("resuming the move of slots", resumed, StringComparison.Ordinal);
        }

        ClusterMap final = await AssertMapAsync(cluster, map => map.Pairs.Count == 4 && map.Pairs.All(p => map.SlotsOf(p.Id) == 4096));

        long after = load.Acknowledged;
        await Waits.UntilAsync(() => load.Acknowledged > after + 300, "writes to go on after the rebalance", 60);
        await stop.CancelAsync();
        await running;

        // A write of the fenced batch waits while no mover runs; past the client's patience (about 4.8 s) it fails as
        // Moved, unacknowledged. Nothing else may fail.
        Assert.All(load.Errors, e => Assert.Contains($"/{WireStatus.Moved}:", e, StringComparison.Ordinal));
        Assert.True(load.StaleReads.IsEmpty, $"{load.StaleReads.Count} stale reads: {string.Join(" | ", load.StaleReads.Take(3))}");
        await using MirrorKvClusterClient auditor = await MirrorKvClusterClient.ConnectAsync(cluster.ClientOptions(spareSecondary));
        Assert.Equal(final.Version, auditor.Map!.Version);
        await load.AuditAsync(auditor);
    }

    [Fact]
    public async Task AfterAMove_TheSourceAnswersMovedForTheKeysItLost_AndAClientWithTheOldMapFindsEveryValueAtTheNewOwner()
    {
        await using ProcessCluster cluster = await ProcessCluster.StartAsync(pairs: 3);
        (_, NodeProcess p1, NodeProcess p1Secondary) = cluster.Pairs[0];
        NodeProcess p2 = cluster.Pairs[1].Primary;
        string[] keys = [.. Enumerable.Range(0, 60).Select(i => cluster.KeyOf("p1", i, "lost"))];
        string[] moving = [.. keys.Where(k => HashSlot.Of(k) <= 2999)];
        Assert.InRange(moving.Length, 10, 50);

        // A cluster client writes every key (and so holds a pointer into p1 for each) and then sits idle through the
        // move: its map and its pointers are stale when it comes back. A plain client of p1 does the same.
        await using MirrorKvClusterClient stale = await MirrorKvClusterClient.ConnectAsync(cluster.ClientOptions());
        await using MirrorKvClient pairClient = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [p1.EndPoint, p1Secondary.EndPoint] });
        foreach (string key in keys)
        {
            await stale.SetAsync(key, Encoding.UTF8.GetBytes($"v1-{key}"));
            Assert.Equal($"v1-{key}", Encoding.UTF8.GetString((await pairClient.GetAsync(key))!));
        }

        string moved = await RunAsync(cluster.Cluster("move", "--slots", "0-2999", "--to", "p2", "--batch-slots", "1000"));
        Assert.Contains("moved 3000 slots", moved, StringComparison.Ordinal);
        ClusterMap after = await AssertMapAsync(cluster, map => map.Owner(0).Id == "p2" && map.Owner(2999).Id == "p2" && map.Owner(3000).Id == "p1");
        Assert.Equal(1UL, stale.Map!.Version);

        // The source refuses every keyed request of a slot it lost, naming the owner's primary and the map now in force;
        // the pointer the plain client holds finds the entry deleted, and its LOOKUP is refused the same way.
        var expected = new Redirect(HashSlot.Of(moving[0]), p2.EndPoint, "p2", after.Version);
        foreach (Func<Task> call in new Func<Task>[]
        {
            async () => await pairClient.GetAsync(moving[0]),
            async () => await pairClient.SetAsync(moving[0], "late"u8.ToArray()),
            async () => await pairClient.DeleteAsync(moving[0]),
        })
        {
            MirrorKvException e = await Assert.ThrowsAsync<MirrorKvException>(call);
            Assert.Equal(WireStatus.Moved, e.WireStatus);
            Assert.True(Redirect.TryParse(e.Message, out Redirect? redirect), e.Message);
            Assert.Equal(expected, redirect);
        }

        await using (MirrorKvClient secondaryClient = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [p1Secondary.EndPoint] }))
        {
            Assert.Equal(WireStatus.Moved, (await Assert.ThrowsAsync<MirrorKvException>(async () => await secondaryClient.GetAsync(moving[1]))).WireStatus);
        }

        // Keys p1 kept it still serves, one-sided from the pointers the plain client holds.
        string kept = keys.First(k => HashSlot.Of(k) > 2999);
        Assert.Equal($"v1-{kept}", Encoding.UTF8.GetString((await pairClient.GetAsync(kept))!));

        // The client with the old map and old pointers reads every value (the moved ones at p2), follows the redirection
        // to the new map, and writes the moved keys at p2; nothing of them lands at p1.
        foreach (string key in keys)
        {
            Assert.Equal($"v1-{key}", Encoding.UTF8.GetString((await stale.GetAsync(key))!));
        }

        Assert.Equal(after.Version, stale.Map.Version);
        Assert.True(stale.Redirects >= 1 && stale.MapRefreshes >= 1, $"{stale.Redirects} redirections, {stale.MapRefreshes} map refreshes");
        await stale.SetManyAsync(moving, [.. moving.Select(k => (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes($"v2-{k}"))]);
        await using MirrorKvClient p2Client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [p2.EndPoint] });
        foreach (string key in moving)
        {
            Assert.Equal($"v2-{key}", Encoding.UTF8.GetString((await p2Client.GetAsync(key))!));
        }

        Assert.Equal((ulong)(keys.Length - moving.Length), (await MirrorKvAdmin.GetStatusAsync(p1.EndPoint)).Entries);
    }

    // Moves all of p1's slots to p2 in small batches under load, and pauses the primary of pair `pausedPair` (p1: the
    // source, p2: the target) past its lease once the second batch is under way; the pair fails over, the paused node
    // comes back, and the move finishes (or, had it given up, finishes when run again).
    private static async Task PausePrimaryDuringMoveAsync(int pausedPair)
    {
        await using ProcessCluster cluster = await ProcessCluster.StartAsync(pairs: 3);
        await using MirrorKvClusterClient writeClient = await MirrorKvClusterClient.ConnectAsync(cluster.ClientOptions());
        await using MirrorKvClusterClient readClient = await MirrorKvClusterClient.ConnectAsync(cluster.ClientOptions(cluster.Pairs[2].Primary));
        MovingLoad load = MovingLoad.Spread(300);
        using var stop = new CancellationTokenSource();
        Task running = load.RunAsync(writeClient, readClient, writers: 4, readers: 2, stop.Token);
        await Waits.UntilAsync(() => load.Acknowledged > 600, "the load to get going", 60);

        (string pairId, NodeProcess paused, NodeProcess heir) = cluster.Pairs[pausedPair];
        string output;
        await using (CliProcess mover = cluster.Cluster("move", "--slots", "0-5461", "--to", "p2", "--batch-slots", "256"))
        {
            await Waits.UntilAsync(() => mover.Stdout.Split("copy from p1").Length > 2, "the mover to start its second batch", 120, () => $"{mover.Stdout}\n{mover.Stderr}");
            await paused.PauseAsync();
            try
            {
                await Waits.UntilAsync(async () => (await MirrorKvAdmin.GetStatusAsync(heir.EndPoint)) is { Role: NodeRole.Primary, Epoch: 2 }, $"pair {pairId}'s secondary to take over from its paused primary", 30);
                await Task.Delay(PastTheLease);
            }
            finally
            {
                await paused.ResumeAsync();
            }

            int code = await mover.WaitForExitAsync(MoveLimit);
            output = mover.Stdout;
            if (code != 0)
            {
                // Stopped safely (the fence in the map): the command run again finishes the move.
                Assert.Equal(3, code);
                output = await RunAsync(cluster.Cluster("move", "--slots", "0-5461", "--to", "p2", "--batch-slots", "256"));
                Assert.Contains("resuming the move", output, StringComparison.Ordinal);
            }
        }

        Assert.Contains("moved ", output, StringComparison.Ordinal);
        await AssertMapAsync(cluster, map => map.SlotsOf("p1") == 0 && map.SlotsOf("p2") == 5462 + 5461);

        // The paused node came back fenced (its lease ran out while it stood still) and rejoined as the heir's secondary.
        await Waits.UntilAsync(async () => (await MirrorKvAdmin.GetStatusAsync(heir.EndPoint)) is { Role: NodeRole.Primary, Protected: true }
            && (await MirrorKvAdmin.GetStatusAsync(paused.EndPoint)).Role == NodeRole.Secondary, $"pair {pairId} to be protected again with the paused node as secondary", 60);

        long after = load.Acknowledged;
        await Waits.UntilAsync(() => load.Acknowledged > after + 300, "writes to go on after the move", 60);
        await stop.CancelAsync();
        await running;

        // A write in flight at the paused primary fails as Unavailable (or, held past the client's patience while the
        // fence waited for the failover, as Moved); none is acknowledged and lost, and no read is stale.
        Assert.All(load.Errors, e => Assert.True(e.StartsWith($"{MirrorKvError.Unavailable}/", StringComparison.Ordinal) || e.Contains($"/{WireStatus.Moved}:", StringComparison.Ordinal), e));
        Assert.True(load.StaleReads.IsEmpty, $"{load.StaleReads.Count} stale reads: {string.Join(" | ", load.StaleReads.Take(3))}");
        await using MirrorKvClusterClient auditor = await MirrorKvClusterClient.ConnectAsync(cluster.ClientOptions(cluster.Pairs[2].Secondary));
        await load.AuditAsync(auditor);
        // p1 gave everything away: its primary of the day holds nothing.
        Assert.Equal(0UL, (await MirrorKvAdmin.GetStatusAsync(pausedPair == 0 ? heir.EndPoint : cluster.Pairs[0].Primary.EndPoint)).Entries);
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

    // The map in etcd has no move under way and satisfies the condition, and every live node serves it.
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
}
