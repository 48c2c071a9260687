using System.Globalization;
using System.Text.RegularExpressions;

namespace MirrorKv.IntegrationTests;

/// <summary><c>mirrorkv bench</c> end to end, short: its rows parse, and with redis installed the comparison runs.</summary>
[Collection(nameof(ProcessTests))]
public partial class BenchTests
{
    [Theory]
    [InlineData("get")]
    [InlineData("set")]
    public async Task Bench_CompareRedis_PrintsParsableRowsAndRatio(string op)
    {
        (int exitCode, string output) = await DemoTests.RunCliAsync(TimeSpan.FromMinutes(2),
            "bench", "--op", op, "--keys", "2000", "--pipeline", "4", "--duration", "1", "--warmup", "1", "--compare", "redis");
        Assert.True(exitCode == 0, output);

        Match ours = Row().Match(output);
        Assert.True(ours.Success && ours.Groups["target"].Value == "mirrorkv", output);
        Assert.Equal(op, ours.Groups["op"].Value);
        Assert.True(Ops(ours) > 0, output);

        if (output.Contains("redis comparison skipped", StringComparison.Ordinal))
        {
            Assert.Contains("apt-get install redis-server", output, StringComparison.Ordinal);
            return;
        }

        Match theirs = Row().Matches(output).Single(m => m.Groups["target"].Value == "redis");
        Match ratio = Ratio().Match(output);
        Assert.True(ratio.Success, output);
        // The printed ratio is the unrounded rates' ratio to two places; rebuilt from the printed (whole) rates it
        // may land across a rounding boundary, so compare within half a hundredth plus that slack.
        Assert.Equal(Ops(ours) / Ops(theirs), double.Parse(ratio.Groups["ratio"].Value, CultureInfo.InvariantCulture), 0.0051);

        // Writes get the like-for-like row too: redis acknowledging only once its replica has the batch (WAIT 1 0).
        Match waited = WaitRow().Match(output);
        Match waitRatio = WaitRatio().Match(output);
        Assert.Equal(op == "set", waited.Success);
        Assert.Equal(op == "set", waitRatio.Success);
        if (op == "set")
        {
            Assert.Equal(Ops(ours) / Ops(waited), double.Parse(waitRatio.Groups["ratio"].Value, CultureInfo.InvariantCulture), 0.0051);
        }
    }

    [Fact]
    public async Task Bench_AgainstAFullStore_SaysWhatDoesNotFit_WithoutAStackTrace()
    {
        await using NodeProcess node = await NodeProcess.StartAsync(["--role", "primary", "--max-memory", "16m"]);
        (int exitCode, string output) = await DemoTests.RunCliAsync(TimeSpan.FromMinutes(2),
            "bench", "--primary", node.EndPoint.ToString(), "--op", "set", "--keys", "100000", "--value-size", "1000", "--duration", "1", "--warmup", "1");

        Assert.Equal(1, exitCode);
        Assert.Contains("OutOfMemory", output, StringComparison.Ordinal);
        Assert.Contains("100,000 keys of 1,000 B do not fit", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bench_AgainstAnEvictingStoreTooSmallForItsKeys_SaysTheKeysWereEvicted_WithoutAStackTrace()
    {
        // The bench writes its keys, then reads them back: under allkeys-lru most of 5,000 values of 3,000 B are
        // gone from 8 MiB by then.
        await using NodeProcess node = await NodeProcess.StartAsync(["--role", "primary", "--max-memory", "8m", "--eviction", "allkeys-lru"]);
        (int exitCode, string output) = await DemoTests.RunCliAsync(TimeSpan.FromMinutes(2),
            "bench", "--primary", node.EndPoint.ToString(), "--op", "set", "--keys", "5000", "--value-size", "3000", "--duration", "1", "--warmup", "1");

        Assert.Equal(1, exitCode);
        Assert.Contains("reading it found nothing: the node evicted it", output, StringComparison.Ordinal);
        Assert.Contains("use fewer --keys or a smaller --value-size", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bench_CompareRedis_InRounds_ReportsTheMedianRound()
    {
        (int exitCode, string output) = await DemoTests.RunCliAsync(TimeSpan.FromMinutes(2),
            "bench", "--op", "get", "--keys", "2000", "--pipeline", "4", "--duration", "1", "--warmup", "1", "--rounds", "3", "--compare", "redis", "--json");
        Assert.True(exitCode == 0, output);
        using var report = System.Text.Json.JsonDocument.Parse(output.TrimEnd().Split('\n')[^1]);
        System.Text.Json.JsonElement root = report.RootElement;
        if (output.Contains("redis comparison skipped", StringComparison.Ordinal))
        {
            Assert.Equal(System.Text.Json.JsonValueKind.Null, root.GetProperty("redis").ValueKind);
            return;
        }

        // One line per round with both sides, the printed rows are one of the rounds, and that round's ratio
        // is the median of the three.
        MatchCollection rounds = RoundLine().Matches(output);
        Assert.Equal(["1", "2", "3"], rounds.Select(m => m.Groups["round"].Value));
        double[] ratios = rounds.Select(m => double.Parse(m.Groups["ratio"].Value, CultureInfo.InvariantCulture)).ToArray();
        double ratio = double.Parse(Ratio().Match(output).Groups["ratio"].Value, CultureInfo.InvariantCulture);
        Assert.Equal(ratios.Order().ElementAt(1), ratio, 0.0051);
        double ours = Ops(Row().Matches(output).Single(m => m.Groups["target"].Value == "mirrorkv"));
        Assert.Contains(rounds, m => Math.Abs(double.Parse(m.Groups["ours"].Value.Replace(",", "", StringComparison.Ordinal), CultureInfo.InvariantCulture) - ours) < 1);
        double[] jsonRatios = root.GetProperty("round_ratios").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(3, jsonRatios.Length);
        // The JSON keeps three decimals where the lines print two.
        Assert.Equal(ratios.Order().ElementAt(1), root.GetProperty("ratio").GetDouble(), 0.0051);

        (exitCode, output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(30), "bench", "--rounds", "0");
        Assert.Equal(2, exitCode);
        Assert.Contains("--rounds must be between 1 and 50", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bench_SetInRounds_ReportsTheMedianOfTheRoundsWaitRatios()
    {
        (int exitCode, string output) = await DemoTests.RunCliAsync(TimeSpan.FromMinutes(2),
            "bench", "--op", "set", "--keys", "2000", "--pipeline", "4", "--duration", "1", "--warmup", "1", "--rounds", "3", "--compare", "redis", "--json");
        Assert.True(exitCode == 0, output);
        if (output.Contains("redis comparison skipped", StringComparison.Ordinal))
        {
            return;
        }

        using var report = System.Text.Json.JsonDocument.Parse(output.TrimEnd().Split('\n')[^1]);
        System.Text.Json.JsonElement root = report.RootElement;

        // Each round's own sync / WAIT quotient, the printed ratio their median, and the round named in the line is
        // that median's: its MirrorKv figure over the printed redis+WAIT row gives the printed ratio.
        Match perRound = WaitRounds().Match(output);
        Assert.True(perRound.Success, output);
        double[] ratios = perRound.Groups["ratios"].Value.Split(' ').Select(x => double.Parse(x, CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(3, ratios.Length);
        double printed = double.Parse(WaitRatio().Match(output).Groups["ratio"].Value, CultureInfo.InvariantCulture);
        Assert.Equal(ratios.Order().ElementAt(1), printed, 0.0051);
        Assert.Equal(printed, ratios[int.Parse(perRound.Groups["round"].Value, CultureInfo.InvariantCulture) - 1], 0.0051);
        double ours = double.Parse(perRound.Groups["ours"].Value.Replace(",", "", StringComparison.Ordinal), CultureInfo.InvariantCulture);
        Assert.Equal(ours / Ops(WaitRow().Match(output)), printed, 0.0051);
        Assert.Equal(printed, root.GetProperty("ratio_wait").GetDouble(), 0.0051);
        Assert.Equal(3, root.GetProperty("round_ratios_wait").GetArrayLength());
    }

    [Theory]
    [InlineData("b", 0.95)]
    [InlineData("c", 1.0)]
    [InlineData("set", 0.0)]
    public async Task Bench_YcsbWorkload_Json_HasTheMixAndTheDistribution(string workload, double readFraction)
    {
        (int exitCode, string output) = await DemoTests.RunCliAsync(TimeSpan.FromMinutes(2),
            "bench", "--workload", workload, "--keys", "2000", "--pipeline", "1", "--duration", "2", "--warmup", "1", "--json");
        Assert.True(exitCode == 0, output);
        using var report = System.Text.Json.JsonDocument.Parse(output.TrimEnd().Split('\n')[^1]);
        System.Text.Json.JsonElement root = report.RootElement;
        Assert.Equal(workload, root.GetProperty("workload").GetString());
        Assert.Equal(workload == "set" ? "uniform" : "zipfian", root.GetProperty("distribution").GetString());
        var rows = root.GetProperty("mirrorkv").GetProperty("rows").EnumerateArray().ToDictionary(r => r.GetProperty("op").GetString()!, r => r.GetProperty("ops_per_second").GetDouble());
        double total = rows.Values.Sum();
        Assert.True(total > 0, output);
        Assert.Equal(readFraction, rows.GetValueOrDefault("get") / total, 0.05);
        Assert.True(root.GetProperty("redis").ValueKind == System.Text.Json.JsonValueKind.Null);
    }

    [Fact]
    public async Task Bench_Failover_ReportsStallDistributions_AndLosesNothing()
    {
        (int exitCode, string output) = await DemoTests.RunCliAsync(TimeSpan.FromMinutes(2), "bench", "--failover", "3", "--keys", "2000", "--json");
        Assert.True(exitCode == 0, output);
        Assert.Contains("killed the primary", output, StringComparison.Ordinal);
        Assert.DoesNotContain("killed the secondary", output, StringComparison.Ordinal);
        using var report = System.Text.Json.JsonDocument.Parse(output.TrimEnd().Split('\n')[^1]);
        System.Text.Json.JsonElement root = report.RootElement;
        Assert.Equal(3, root.GetProperty("failover_kills").GetInt32());
        Assert.Equal(0, root.GetProperty("writes_lost").GetInt32());
        Assert.Equal(0, root.GetProperty("bad_reads").GetInt64());
        Assert.True(root.GetProperty("acknowledged_writes").GetInt64() > 0);
        foreach (string stall in new[] { "read_stall_ms", "write_stall_ms", "rejoin_ms" })
        {
            System.Text.Json.JsonElement stats = root.GetProperty(stall);
            Assert.True(stats.GetProperty("p50").GetDouble() >= 0 && stats.GetProperty("p99").GetDouble() >= stats.GetProperty("p50").GetDouble() && stats.GetProperty("max").GetDouble() >= stats.GetProperty("p99").GetDouble(), output);
        }

        // Beside each kill, one window of each control without a fault, measured alike: no failover in them, and
        // their read stalls (the machine's floor) are figures of their own, not mixed into the kills'.
        Dictionary<string, System.Text.Json.JsonElement> byKind = root.GetProperty("faults").EnumerateArray().ToDictionary(f => f.GetProperty("fault").GetString()!, f => f.Clone());
        Assert.Equal(["kill", "idle", "node-start"], byKind.Keys);
        foreach (string control in new[] { "idle", "node-start" })
        {
            Assert.Equal(3, byKind[control].GetProperty("cycles").GetInt32());
            Assert.Equal(0, byKind[control].GetProperty("failovers").GetInt32());
            Assert.True(byKind[control].GetProperty("read_stall_ms").GetProperty("max").GetDouble() > 0, output);
        }

        Assert.Equal(3, byKind["kill"].GetProperty("failovers").GetInt32());

        // The machine's floor in every window and alone after the run: a sleep of 1 ms lasts at least 1 ms, so a probe
        // that did not run (or a window it was not marked for) shows.
        foreach (System.Text.Json.JsonElement kind in byKind.Values)
        {
            Assert.True(kind.GetProperty("sleep_probe_ms").GetProperty("p50").GetDouble() >= 1.0, output);
        }

        System.Text.Json.JsonElement alone = root.GetProperty("machine_alone_sleep_ms");
        Assert.True(alone.GetProperty("p50").GetDouble() >= 1.0 && alone.GetProperty("max").GetDouble() >= alone.GetProperty("p50").GetDouble(), output);
        Assert.Matches(@"the machine alone: 20 windows of \d[\d,]* ms", output);
        Assert.Matches(@"cycle +\d+ control: started a node beside the pair", output);
        Assert.Matches(@"cycle +\d+ control: no fault \(control\)", output);

        (exitCode, output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(30), "bench", "--failover", "2", "--primary", "127.0.0.1:7400");
        Assert.Equal(2, exitCode);
        Assert.Contains("leave out --primary", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bench_Rejoin_ReportsTheCopyRate_AndBothNodesEndTheSame()
    {
        (int exitCode, string output) = await DemoTests.RunCliAsync(TimeSpan.FromMinutes(2), "bench", "--rejoin", "--data", "24m", "--write-rate", "2000", "--json");
        Assert.True(exitCode == 0, output);
        Assert.Contains("copied 24 slabs", output, StringComparison.Ordinal);
        using var report = System.Text.Json.JsonDocument.Parse(output.Split('\n').Last(line => line.StartsWith("{\"rejoin\"", StringComparison.Ordinal)));
        System.Text.Json.JsonElement root = report.RootElement;
        Assert.Equal(24, root.GetProperty("slabs").GetInt32());
        Assert.True(root.GetProperty("copy_gib_per_second").GetDouble() > 0, output);
        Assert.True(root.GetProperty("start_to_protected_ms").GetDouble() >= root.GetProperty("copy_ms").GetDouble(), output);
        Assert.True(root.GetProperty("writes_during_join").GetInt64() > 0, output);
        Assert.Equal(0, root.GetProperty("failed_writes").GetInt64());
        Assert.True(root.GetProperty("same_entries").GetBoolean(), output);

        (exitCode, output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(30), "bench", "--rejoin", "--primary", "127.0.0.1:7400");
        Assert.Equal(2, exitCode);
        Assert.Contains("leave out --primary", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bench_Memory_ReadsEachProcesssResidentSize_AndTheLoadShowsInTheNodes()
    {
        // 8 MiB of 100 B values: 83,887 keys, about 13 MB of slots and index in the node, which its VmRSS must show.
        (int exitCode, string output) = await DemoTests.RunCliAsync(TimeSpan.FromMinutes(3), "bench", "--memory", "--data", "8m", "--value-size", "100", "--compare", "redis", "--json");
        Assert.True(exitCode == 0, output);
        using var report = System.Text.Json.JsonDocument.Parse(output.Split('\n').Last(line => line.StartsWith("{\"memory\"", StringComparison.Ordinal)));
        System.Text.Json.JsonElement root = report.RootElement;
        Assert.Equal(83_887, root.GetProperty("keys").GetInt64());
        long floor = root.GetProperty("runtime_floor_rss").GetInt64(), idle = root.GetProperty("mirrorkv_idle_rss").GetInt64();
        long loaded = root.GetProperty("mirrorkv_loaded_rss").GetInt64();
        Assert.True(floor > 1 << 20 && idle > floor, output);
        Assert.True(loaded - idle > 10_000_000, output);
        Assert.True(root.GetProperty("redis_loaded_rss").GetInt64() - root.GetProperty("redis_idle_rss").GetInt64() > 10_000_000, output);
        Assert.Contains("ratio loaded: mirrorkv / redis = ", output, StringComparison.Ordinal);

        (exitCode, output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(30), "bench", "--memory", "--primary", "127.0.0.1:7400");
        Assert.Equal(2, exitCode);
        Assert.Contains("leave out --primary", output, StringComparison.Ordinal);
    }

    [Fact]
    public void KeyChooser_Zipfian_IsSkewed_Uniform_IsFlat()
    {
        const int keys = 10_000, draws = 200_000;
        int[] Counts(string distribution)
        {
            var chooser = new MirrorKv.Cli.Bench.KeyChooser(keys, distribution);
            var random = new Random(5);
            var counts = new int[keys];
            for (int i = 0; i < draws; i++)
            {
                counts[chooser.Next(random)]++;
            }

            return counts;
        }

        int[] zipfian = Counts("zipfian"), uniform = Counts("uniform");
        double TopTenShare(int[] counts) => counts.OrderDescending().Take(10).Sum() / (double)draws;

        // With constant 0.99 the ten hottest of 10,000 keys take about 30 % of the operations; uniformly, 0.1 %.
        Assert.InRange(TopTenShare(zipfian), 0.2, 0.45);
        Assert.InRange(TopTenShare(uniform), 0.0005, 0.003);
        Assert.True(zipfian.Count(c => c > 0) > keys / 2, "the zipfian tail must still reach most keys");
        Assert.Throws<ArgumentException>(() => new MirrorKv.Cli.Bench.KeyChooser(keys, "gaussian"));
    }

    private static double Ops(Match row) => double.Parse(row.Groups["ops"].Value.Replace(",", "", StringComparison.Ordinal), CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^(?<target>mirrorkv|redis) +(?<op>get|set) +\d+ B +c=\d+ P=\d+ +(?<ops>[0-9,]+) ops/s", RegexOptions.Multiline)]
    private static partial Regex Row();

    [GeneratedRegex(@"^ratio .* = (?<ratio>[0-9.]+)$", RegexOptions.Multiline)]
    private static partial Regex Ratio();

    [GeneratedRegex(@"^redis\+WAIT +set +\d+ B +c=\d+ P=\d+ +(?<ops>[0-9,]+) ops/s", RegexOptions.Multiline)]
    private static partial Regex WaitRow();

    [GeneratedRegex(@"^ratio +set .* mirrorkv sync / redis\+WAIT 1 0 = (?<ratio>[0-9.]+)$", RegexOptions.Multiline)]
    private static partial Regex WaitRatio();

    [GeneratedRegex(@"^rounds +sync / redis\+WAIT per round (?<ratios>[0-9. ]+); the redis\+WAIT row is the median round's \(round (?<round>\d+): mirrorkv set (?<ours>[0-9,]+) ops/s\)$", RegexOptions.Multiline)]
    private static partial Regex WaitRounds();

    [GeneratedRegex(@"^round (?<round>\d+) +mirrorkv +(?<ours>[0-9,]+) ops/s +redis +(?<theirs>[0-9,]+) ops/s +ratio (?<ratio>[0-9.]+)$", RegexOptions.Multiline)]
    private static partial Regex RoundLine();
}
