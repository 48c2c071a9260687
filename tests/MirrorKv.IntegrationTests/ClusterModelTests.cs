using System.Globalization;
using System.Text;
using MirrorKv.Adapter;
using MirrorKv.Cli.Cluster;
using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// Model-based, over many seeds: one client writes, deletes and reads keys of a cluster whose nodes run in this process
/// (<see cref="InProcessCluster"/>, a real etcd) while seeded slot moves (the mover of <c>cluster move</c>) and
/// failovers of seeded pairs run beside it, and every answer is checked against a model of the acknowledged writes.
/// The client is the only writer and waits for each operation, so each read must return exactly the last
/// acknowledged value, or one whose write failed after it (it may have landed). A failure names its seed and step.
/// </summary>
[Collection(nameof(ProcessTests))]
public class ClusterModelTests
{
    // Seeds per run: the default keeps the test within a couple of minutes; MIRRORKV_CLUSTER_MODEL_SEEDS asks for more.
    private static int Seeds => int.TryParse(Environment.GetEnvironmentVariable("MIRRORKV_CLUSTER_MODEL_SEEDS"), CultureInfo.InvariantCulture, out int n) && n > 0 ? n : 12;

    private const int Steps = 60;
    private const int KeysPerSeed = 24;

    [Fact]
    public async Task RandomMovesFailoversWritesAndReads_ManySeeds_NoAcknowledgedWriteLost_NoStaleRead()
    {
        await using EtcdProcess etcd = await EtcdProcess.StartAsync();
        await using InProcessCluster cluster = await InProcessCluster.StartAsync(etcd.Url, "model", pairs: 3);
        await using MirrorKvClusterClient client = await MirrorKvClusterClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [.. cluster.EndPoints] });
        using ClusterDirectory directory = cluster.Directory();
        var mover = new SlotMover(directory, null, TextWriter.Null) { BatchSlots = 64, PatienceLimit = TimeSpan.FromSeconds(60) };
        var totals = new Totals();
        var model = new Dictionary<string, List<string?>>(StringComparer.Ordinal);
        for (int seed = 1; seed <= Seeds; seed++)
        {
            await RunSeedAsync(seed, cluster, client, mover, model, totals);
        }

        // Every key of every seed, read by a client that starts from nothing, after the last map.
        await cluster.WaitAllProtectedAsync();
        await using MirrorKvClusterClient auditor = await MirrorKvClusterClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [.. cluster.EndPoints.Reverse()] });
        foreach ((string key, List<string?> allowed) in model)
        {
            string? found = Text(await auditor.GetAsync(key));
            Assert.True(allowed.Contains(found), $"audit: {key} (slot {HashSlot.Of(key)}) holds {found ?? "nothing"}; the model allows {string.Join(" or ", allowed.Select(v => v ?? "nothing"))}");
        }

        Assert.True(totals.Moves >= Seeds && totals.Failovers >= Seeds / 2, $"too little happened: {totals}");
        Assert.True(totals.Reads > Seeds * 10, $"too few reads: {totals}");
        TestContext.Current.TestOutputHelper?.WriteLine($"{Seeds} seeds: {totals}; {client.Redirects} redirections, {client.MapRefreshes} map refreshes; map version {client.Map!.Version}");
    }

    private static async Task RunSeedAsync(int seed, InProcessCluster cluster, MirrorKvClusterClient client, SlotMover mover, Dictionary<string, List<string?>> model, Totals totals)
    {
        var random = new Random(seed);
        string[] keys = [.. Enumerable.Range(0, KeysPerSeed).Select(i => $"s{seed}-{i}")];
        foreach (string key in keys)
        {
            model[key] = [null];
        }

        Task moving = Task.CompletedTask, failing = Task.CompletedTask;
        for (int step = 0; step < Steps; step++)
        {
            string key = keys[random.Next(keys.Length)];
            string where = $"seed {seed} step {step}";
            int dice = random.Next(100);
            if (dice < 40)
            {
                string value = $"{seed}-{step}";
                try
                {
                    await client.SetAsync(key, Encoding.UTF8.GetBytes(value));
                    model[key] = [value];
                    totals.Writes++;
                }
                catch (MirrorKvException e)
                {
                    // Not acknowledged: it may have landed or not.
                    AssertPassing(e, where);
                    model[key].Add(value);
                    totals.FailedWrites++;
                }
            }
            else if (dice < 47)
            {
                try
                {
                    await client.DeleteAsync(key);
                    model[key] = [null];
                }
                catch (MirrorKvException e)
                {
                    AssertPassing(e, where);
                    model[key].Add(null);
                    totals.FailedWrites++;
                }
            }
            else if (dice < 85)
            {
                try
                {
                    string? found = Text(await client.GetAsync(key));
                    Assert.True(model[key].Contains(found), $"{where}: read {key} (slot {HashSlot.Of(key)}, pair {client.Map!.Owner(HashSlot.Of(key)).Id} by map {client.Map.Version}) = {found ?? "nothing"}; the model allows {string.Join(" or ", model[key].Select(v => v ?? "nothing"))}");
                    totals.Reads++;
                }
                catch (MirrorKvException e)
                {
                    AssertPassing(e, where);
                    totals.FailedReads++;
                }
            }
            else if (dice < 95)
            {
                if (moving.IsCompleted)
                {
                    await WithContextAsync(moving, cluster);
                    (int first, int last, string to) = PickMove(await mover.MapAsync(CancellationToken.None), random, key);
                    moving = mover.MoveAsync(first, last, to, CancellationToken.None);
                    totals.Moves++;
                }
            }
            else if (failing.IsCompleted)
            {
                await WithContextAsync(failing, cluster);
                failing = cluster.FailOverAsync(random.Next(cluster.PairCount));
                totals.Failovers++;
            }

            if (random.Next(4) == 0)
            {
                await Task.Delay(random.Next(1, 40));
            }
        }

        await WithContextAsync(failing, cluster);
        await WithContextAsync(moving.WaitAsync(TimeSpan.FromSeconds(120)), cluster);
    }

    // A move or failover that failed, with what the nodes logged last.
    private static async Task WithContextAsync(Task task, InProcessCluster cluster)
    {
        try
        {
            await task;
        }
        catch (Exception e) when (e is not Xunit.Sdk.IAssertionException)
        {
            Assert.Fail($"{e.GetType().Name}: {e.Message}\n{cluster.Context()}");
        }
    }

    // Often the slots around the key just used, so that moves hit the keys in play; from their owner to another pair.
    private static (int First, int Last, string To) PickMove(ClusterMap map, Random random, string key)
    {
        int count = random.Next(1, 400);
        int around = random.Next(2) == 0 ? HashSlot.Of(key) : random.Next(HashSlot.Count);
        int first = Math.Clamp(around - random.Next(count), 0, HashSlot.Count - count);
        string owner = map.Owner(first).Id;
        List<string> others = [.. map.Pairs.Select(p => p.Id).Where(id => id != owner)];
        return (first, first + count - 1, others[random.Next(others.Count)]);
    }

    // What may fail without breaking a promise: an operation in flight at a primary that stopped (Unavailable), or
    // one held past the client's patience while its slot was fenced (Moved).
    private static void AssertPassing(MirrorKvException e, string where) =>
        Assert.True(e.Error == MirrorKvError.Unavailable || e.WireStatus == WireStatus.Moved, $"{where}: {e.Error}/{e.WireStatus}: {e.Message}");

    private static string? Text(byte[]? value) => value is null ? null : Encoding.UTF8.GetString(value);

    private sealed class Totals
    {
        public int Writes { get; set; }

        public int FailedWrites { get; set; }

        public int Reads { get; set; }

        public int FailedReads { get; set; }

        public int Moves { get; set; }

        public int Failovers { get; set; }

        public override string ToString() =>
            $"{Writes} writes acknowledged ({FailedWrites} failed), {Reads} reads checked ({FailedReads} failed), {Moves} moves, {Failovers} failovers";
    }
}
