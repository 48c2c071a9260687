using System.Text.RegularExpressions;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// <c>mirrorkv chaos --cluster</c>, short: a cluster of three pairs over an etcd of the run's own, each cycle a slot
/// move with the primary of its source, its target or a bystander killed (kill -9) while it runs; every pair heals,
/// every move finishes, nothing acknowledged is lost, no read is stale. The long run's figures are in
/// docs/reliability.md.
/// </summary>
[Collection(nameof(ProcessTests))]
public class ClusterChaosTests
{
    [Fact]
    public async Task ChaosCluster_FourCycles_OfMovesAndPrimaryKills_HealsFinishesEveryMove_LosesNothing_NoStaleRead()
    {
        if (!(Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Any(dir => File.Exists(Path.Combine(dir, "etcd"))))
        {
            Assert.Skip("etcd is not installed (apt-get install etcd-server); .ci/run installs it");
        }

        (int exitCode, string output) = await DemoTests.RunCliAsync(TimeSpan.FromMinutes(6), "chaos", "--cluster", "3", "--cycles", "4", "--seed", "3", "--keys", "1000");

        Assert.True(exitCode == 0, output);
        Assert.Matches(new Regex(@"cycles\s+4 \(4 primary kills", RegexOptions.Multiline), output);
        Assert.Equal(4, Regex.Matches(output, @"cycle +\d+: slots .* protected again; move done").Count);
        Assert.Matches(new Regex(@"stale reads\s+0$", RegexOptions.Multiline), output);
        Assert.Matches(new Regex(@"foreign reads\s+0$", RegexOptions.Multiline), output);
        Assert.Matches(new Regex(@"writes lost\s+0$", RegexOptions.Multiline), output);
        Match acknowledged = new Regex(@"acknowledged writes\s+([0-9,]+)$", RegexOptions.Multiline).Match(output);
        Assert.True(acknowledged.Success && long.Parse(acknowledged.Groups[1].Value.Replace(",", "", StringComparison.Ordinal), System.Globalization.CultureInfo.InvariantCulture) > 500, output);
    }

    [Fact]
    public async Task ChaosCluster_WithAnotherFault_IsRefusedWithTheReason()
    {
        (int exitCode, string output) = await DemoTests.RunCliAsync("chaos", "--cluster", "3", "--faults", "pause-primary");

        Assert.NotEqual(0, exitCode);
        Assert.Contains("--faults other than kill is not supported", output, StringComparison.Ordinal);
    }
}
