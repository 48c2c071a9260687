using System.Text.Json;
using System.Text.RegularExpressions;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// The chaos run with real processes, seeded and bounded: every cycle injects a fault (kill -9, a pause, a cut
/// link, a silent death), waits until the pair is protected again, and the run checks every acknowledged write,
/// every read and, throughout, that the two nodes never both serve as primary; in pair mode and with etcd as
/// the witness.
/// </summary>
[Collection(nameof(ProcessTests))]
public class ChaosTests
{
    [Fact]
    public async Task Chaos_TwentyCycles_LosesNoAcknowledgedWriteAndReturnsNoBadRead()
    {
        (int exitCode, string output) = await DemoTests.RunCliAsync(TimeSpan.FromMinutes(4), "chaos", "--cycles", "20", "--seed", "7", "--keys", "3000");

        Assert.True(exitCode == 0, output);
        Assert.Matches(new Regex(@"cycles\s+20 \((\d+) primary kills", RegexOptions.Multiline), output);
        Assert.Matches(new Regex(@"writes lost\s+0$", RegexOptions.Multiline), output);
        Assert.Matches(new Regex(@"bad reads\s+0$", RegexOptions.Multiline), output);
        Assert.Matches(new Regex(@"reads failed\s+0 ", RegexOptions.Multiline), output);
        Match acknowledged = new Regex(@"acknowledged writes\s+([0-9,]+)$", RegexOptions.Multiline).Match(output);
        Assert.True(acknowledged.Success && long.Parse(acknowledged.Groups[1].Value.Replace(",", "", StringComparison.Ordinal), System.Globalization.CultureInfo.InvariantCulture) > 1000, output);
        Assert.Equal(20, Regex.Matches(output, @"cycle +\d+: killed the").Count);
    }

    [Fact]
    public async Task Chaos_MixedFaults_EveryKindHealsWithNothingLostAndNeverTwoPrimaries()
    {
        (int exitCode, string output) = await DemoTests.RunCliAsync(TimeSpan.FromMinutes(3), "chaos", "--faults", string.Join(",", AllKinds), "--cycles", "8", "--seed", "7", "--keys", "3000", "--json");

        Dictionary<string, JsonElement> byKind = AssertCleanRun(exitCode, output, "pair", cycles: 8);

        // A pause or a cut outlasts the promotion timeout: the pair stops writing for a while, and says so.
        Assert.True(byKind["pause-secondary"].GetProperty("write_stall_ms").GetProperty("p50").GetDouble() > 500, output);
        Assert.Matches(new Regex(@"^\s*\[.*\]\s+cut-link\s+\d+ ", RegexOptions.Multiline), output);
        Assert.Contains("relay", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chaos_WithEviction_EveryKindHeals_MissesButNoStaleOrForeignValue()
    {
        // 3,000 keys of 2,000 and 6,000 B values against 8 MiB per node: the primary evicts throughout, the
        // evictions go down the stream as deletes, and every fault kind strikes meanwhile.
        (int exitCode, string output) = await DemoTests.RunCliAsync(TimeSpan.FromMinutes(3), "chaos", "--eviction", "allkeys-lru", "--faults", string.Join(",", AllKinds), "--cycles", "6", "--seed", "11", "--keys", "3000", "--json");

        AssertCleanRun(exitCode, output, "pair", cycles: 6);
        using var report = JsonDocument.Parse(output.TrimEnd().Split('\n')[^1]);
        JsonElement root = report.RootElement;
        Assert.True(root.GetProperty("reads_missed").GetInt64() > 100, output);
        Assert.InRange(root.GetProperty("missing_at_end").GetInt32(), 300, 2_900);
        Assert.Equal(0, root.GetProperty("linearizability_violations").GetInt64());
        Assert.Contains("eviction allkeys-lru: --max-memory 8m per node", output, StringComparison.Ordinal);

        (exitCode, output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(30), "chaos", "--eviction", "volatile-ttl");
        Assert.NotEqual(0, exitCode);
        Assert.Contains("--eviction must be allkeys-lru or allkeys-lfu", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chaos_WithCoordinator_EveryKindHealsWithNothingLostAndNeverTwoPrimaries()
    {
        if (LocalEtcdMissing())
        {
            Assert.Skip("etcd is not installed (apt-get install etcd-server); .ci/run installs it");
        }

        // --coordinator without URLs: the run starts its own etcd and gives both nodes --coordinator and a pair name.
        (int exitCode, string output) = await DemoTests.RunCliAsync(TimeSpan.FromMinutes(3), "chaos", "--coordinator", "--faults", string.Join(",", AllKinds), "--cycles", "10", "--seed", "7", "--keys", "3000", "--json");

        Dictionary<string, JsonElement> byKind = AssertCleanRun(exitCode, output, "coordinator", cycles: 10);
        Assert.Contains("coordinator mode: etcd at http://127.0.0.1:", output, StringComparison.Ordinal);
        Assert.Matches(new Regex(@"mode\s+coordinator", RegexOptions.Multiline), output);

        // With a witness the primary drops a silent or paused secondary and goes on alone: no failover, and writes
        // resume before the silent secondary is even killed (1.5 s into its silence), where pair mode stops until
        // the dead node is back.
        foreach (string kind in (string[])["pause-secondary", "silent-death"])
        {
            Assert.True(byKind[kind].GetProperty("failovers").GetInt32() == 0, $"{kind}: {output}");
        }

        Assert.True(byKind["silent-death"].GetProperty("write_stall_ms").GetProperty("max").GetDouble() < 1500, output);
    }

    [Fact]
    public async Task Chaos_CoordinatorWithoutEtcdOnPath_ExitsWithTheInstallLine()
    {
        var environment = new Dictionary<string, string?> { ["PATH"] = Path.Combine(Path.GetTempPath(), $"coord-empty-{Guid.NewGuid():N}") };

        (int exitCode, string output) = await DemoTests.RunDotnetAsync(NodeProcess.CliPath(), TimeSpan.FromSeconds(30), environment, "chaos", "--coordinator", "--cycles", "1");

        Assert.True(exitCode == 2, output);
        Assert.Contains("apt-get install etcd-server", output, StringComparison.Ordinal);
        Assert.DoesNotContain("cycle ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chaos_CoordinatorNotAUrl_ExitsWithAClearError()
    {
        (int exitCode, string output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(30), "chaos", "--coordinator", "etcd-host:2379");

        Assert.NotEqual(0, exitCode);
        Assert.Contains("--coordinator: 'etcd-host:2379' is not an etcd URL", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chaos_UnknownFault_ExitsWithTheValidKinds()
    {
        (int exitCode, string output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(30), "chaos", "--faults", "kill,bogus");

        Assert.NotEqual(0, exitCode);
        Assert.Contains("unknown fault 'bogus'", output, StringComparison.Ordinal);
        Assert.Contains("valid kinds: kill, pause-primary, pause-secondary, cut-link, silent-death", output, StringComparison.Ordinal);
    }

    private static readonly string[] AllKinds = ["kill", "pause-primary", "pause-secondary", "cut-link", "silent-death"];

    private static bool LocalEtcdMissing() =>
        !(Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Any(dir => File.Exists(Path.Combine(dir, "etcd")));

    // The checks every mixed run must pass: nothing lost, no bad read, never two primaries, every cycle healed,
    // every fault kind dealt; gives the figures per kind.
    private static Dictionary<string, JsonElement> AssertCleanRun(int exitCode, string output, string mode, int cycles)
    {
        Assert.True(exitCode == 0, output);
        using var report = JsonDocument.Parse(output.TrimEnd().Split('\n')[^1]);
        JsonElement root = report.RootElement.Clone();
        Assert.Equal(mode, root.GetProperty("mode").GetString());
        Assert.Equal(cycles, root.GetProperty("cycles_run").GetInt32());
        Assert.Equal(0, root.GetProperty("writes_lost").GetInt32());
        Assert.Equal(0, root.GetProperty("bad_reads").GetInt64());
        Assert.Equal(0, root.GetProperty("two_primary_samples").GetInt64());
        Assert.Equal(0, root.GetProperty("not_healed").GetInt32());
        Assert.True(root.GetProperty("acknowledged_writes").GetInt64() > 1000, output);

        // The two-primary check ran the whole time: ~50 samples a second, not a handful.
        Assert.True(root.GetProperty("status_samples").GetInt64() > 200, output);
        Dictionary<string, JsonElement> byKind = root.GetProperty("faults").EnumerateArray().ToDictionary(f => f.GetProperty("fault").GetString()!);
        Assert.Equal(AllKinds.Order(), byKind.Keys.Order());
        foreach ((string kind, JsonElement figures) in byKind)
        {
            Assert.True(figures.GetProperty("cycles").GetInt32() >= 1, kind);
            Assert.True(figures.GetProperty("protected_ms").GetProperty("p50").GetDouble() >= 0, $"{kind}: {output}");
        }

        return byKind;
    }
}
