using System.Text.RegularExpressions;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// The chaos run with real processes and kill -9, seeded and bounded: every cycle kills the primary or the
/// secondary, restarts it as secondary of the survivor and waits until it caught up.
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
        Match acknowledged = new Regex(@"acknowledged writes\s+([0-9,]+)$", RegexOptions.Multiline).Match(output);
        Assert.True(acknowledged.Success && long.Parse(acknowledged.Groups[1].Value.Replace(",", "", StringComparison.Ordinal), System.Globalization.CultureInfo.InvariantCulture) > 1000, output);
        Assert.Equal(20, Regex.Matches(output, @"cycle +\d+: killed the").Count);
    }
}
