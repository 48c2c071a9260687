using System.Text.Json;
using System.Text.RegularExpressions;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// The chaos run with real processes, seeded and bounded: every cycle injects a fault (kill -9, a pause, a cut
/// link), waits until the pair is protected again, and the run checks every acknowledged write, every read
/// and, throughout, that the two nodes never both serve as primary.
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
        string[] kinds = ["kill", "pause-primary", "pause-secondary", "cut-link"];
        (int exitCode, string output) = await DemoTests.RunCliAsync(TimeSpan.FromMinutes(3), "chaos", "--faults", string.Join(",", kinds), "--cycles", "8", "--seed", "7", "--keys", "3000", "--json");

        Assert.True(exitCode == 0, output);
        using var report = JsonDocument.Parse(output.TrimEnd().Split('\n')[^1]);
        JsonElement root = report.RootElement;
        Assert.Equal(8, root.GetProperty("cycles_run").GetInt32());
        Assert.Equal(0, root.GetProperty("writes_lost").GetInt32());
        Assert.Equal(0, root.GetProperty("bad_reads").GetInt64());
        Assert.Equal(0, root.GetProperty("two_primary_samples").GetInt64());
        Assert.Equal(0, root.GetProperty("not_healed").GetInt32());
        Assert.True(root.GetProperty("acknowledged_writes").GetInt64() > 1000, output);

        // The two-primary check ran the whole time: ~50 samples a second, not a handful.
        Assert.True(root.GetProperty("status_samples").GetInt64() > 200, output);
        Dictionary<string, JsonElement> byKind = root.GetProperty("faults").EnumerateArray().ToDictionary(f => f.GetProperty("fault").GetString()!);
        Assert.Equal(kinds.Order(), byKind.Keys.Order());
        foreach ((string kind, JsonElement figures) in byKind)
        {
            Assert.True(figures.GetProperty("cycles").GetInt32() >= 1, kind);
            Assert.True(figures.GetProperty("protected_ms").GetProperty("p50").GetDouble() >= 0, $"{kind}: {output}");
        }

        // A pause or a cut outlasts the promotion timeout: the pair stops writing for a while, and says so.
        Assert.True(byKind["pause-secondary"].GetProperty("write_stall_ms").GetProperty("p50").GetDouble() > 500, output);
        Assert.Matches(new Regex(@"^\s*\[.*\]\s+cut-link\s+\d+ ", RegexOptions.Multiline), output);
        Assert.Contains("relay", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chaos_UnknownFault_ExitsWithTheValidKinds()
    {
        (int exitCode, string output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(30), "chaos", "--faults", "kill,bogus");

        Assert.NotEqual(0, exitCode);
        Assert.Contains("unknown fault 'bogus'", output, StringComparison.Ordinal);
        Assert.Contains("valid kinds: kill, pause-primary, pause-secondary, cut-link, silent-death", output, StringComparison.Ordinal);
    }
}
