using System.Text.RegularExpressions;
using MirrorKv.Protocol;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// <c>mirrorkv cluster status</c> against a real cluster (real processes, a real etcd): the map, each member's role,
/// epoch, lag, entries and memory, and, with <c>--etcd</c>, the moves in progress with their source, target and phase
/// as the map in etcd holds them (the nodes' map carries ownership only, and status says so without <c>--etcd</c>).
/// </summary>
[Collection(nameof(ProcessTests))]
public class ClusterStatusProcessTests
{
    [Fact]
    public async Task Status_ShowsEachMoveInProgress_WithSourceTargetAndPhase_AndEveryMember()
    {
        await using ProcessCluster cluster = await ProcessCluster.StartAsync(pairs: 3, resp: true);
        string node = cluster.Pairs[2].Secondary.EndPoint.ToString();
        string[] etcd = ["--etcd", cluster.Etcd.Url.ToString(), "--name", cluster.Name];

        // Every member answering in its role (exit 0): on a loaded machine a secondary just started may still be
        // rejoining (stopped, not yet in sync) at the first look.
        string[] members =
        [
            .. cluster.Pairs.Select(p => $@"{p.Primary.EndPoint}\s+primary\s+epoch 1\s+protected\s+lag 0\s+entries 0\s+memory [0-9.]+ (KiB|MiB) / [0-9.]+ MiB"),
            .. cluster.Pairs.Select(p => $@"{p.Secondary.EndPoint}\s+secondary\s+epoch 1\s+protected\s+lag \d+\s+entries 0\s+memory [0-9.]+ (KiB|MiB) / [0-9.]+ MiB"),
        ];
        (int code, string stdout, string stderr) = (0, "", "");
        await Waits.UntilAsync(
            async () =>
            {
                (code, stdout, stderr) = await CliProcess.RunAsync(["cluster", "status", .. etcd]);
                return code == 0 && members.All(m => Regex.IsMatch(stdout, m));
            },
            "every member to answer cluster status in its role",
            context: () => stdout + stderr);
        Assert.Contains("cluster test: map version 1, 3 pairs, 16384 slots", stdout, StringComparison.Ordinal);
        Assert.Contains("moves in progress: none", stdout, StringComparison.Ordinal);
        Assert.Contains("pair p1: 5462 slots (0-5461)", stdout, StringComparison.Ordinal);

        // Two moves at once, as a mover leaves them: p1's 0-99 to p2 in copy, p3's 16000-16383 to p1 in handoff.
        ClusterMap copy = cluster.Map.WithSlots(2, 0, 99, "p1", "p2", MigrationPhase.Copy);
        await cluster.PublishAsync(copy);
        await cluster.PublishAsync(copy.WithSlots(3, 16000, 16383, "p3", "p1", MigrationPhase.Handoff));
        (code, stdout, stderr) = await CliProcess.RunAsync(["cluster", "status", node, .. etcd]);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("cluster test: map version 3", stdout, StringComparison.Ordinal);
        Assert.Contains("moves in progress: 2 (484 slots)", stdout, StringComparison.Ordinal);
        Assert.Contains("  slots 0-99: p1 -> p2, phase copy (", stdout, StringComparison.Ordinal);
        Assert.Contains("  slots 16000-16383: p3 -> p1, phase handoff (", stdout, StringComparison.Ordinal);
        Assert.Contains("pair p1: 5462 slots (0-99 (moving to p2), 100-5461)", stdout, StringComparison.Ordinal);
        Assert.Contains("pair p3: 5461 slots (10923-15999, 16000-16383 (moving to p1))", stdout, StringComparison.Ordinal);

        // A node's map alone does not know the moves: status says so rather than "none".
        (code, stdout, stderr) = await CliProcess.RunAsync("cluster", "status", node);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("cluster test: map version 3", stdout, StringComparison.Ordinal);
        Assert.Contains("moves in progress: not known", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("phase copy", stdout, StringComparison.Ordinal);

        // Moves done: none in progress; a killed member shows as unreachable (exit 1), the others as before.
        await cluster.PublishAsync(cluster.Map.WithSlots(4, 0, 99, "p2").WithSlots(4, 16000, 16383, "p1"));
        await cluster.Pairs[1].Secondary.KillAsync();
        (code, stdout, stderr) = await CliProcess.RunAsync(["cluster", "status", .. etcd]);
        Assert.Equal(1, code);
        Assert.Contains("moves in progress: none", stdout, StringComparison.Ordinal);
        Assert.True(Regex.IsMatch(stdout, $@"{cluster.Pairs[1].Secondary.EndPoint}\s+unreachable: "), stdout);
        Assert.Contains("pair p2: 5561 slots (0-99, 5462-10922)", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_WithoutNodeOrEtcd_SaysWhatToGive()
    {
        (int code, string stdout, string stderr) = await CliProcess.RunAsync("cluster", "status");
        Assert.Equal(2, code);
        Assert.Contains("name a node of the cluster (host:port), or its etcd with --etcd", stderr, StringComparison.Ordinal);
        Assert.Equal("", stdout);
    }
}
