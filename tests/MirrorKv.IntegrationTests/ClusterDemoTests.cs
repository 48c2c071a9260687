using System.Text.Json;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// The README's main job across a cluster, run as a user runs it (<c>mirrorkv demo --cluster 3</c>): etcd and three
/// pairs, a slot move with kill -9 of the source pair's primary during it. A broken cluster demo turns CI red.
/// </summary>
[Collection(nameof(ProcessTests))]
public class ClusterDemoTests
{
    [Fact]
    public async Task ClusterDemo_PrimaryKilledDuringAMove_NothingLost_TheOtherPairsNeverNotice()
    {
        if (EtcdProcess.FindOnPath("etcd") is null)
        {
            Assert.Skip("etcd is not installed (apt-get install etcd-server); .ci/run installs it");
        }

        (int exitCode, string output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(180), "demo", "--cluster", "3", "--keys", "3000", "--json");

        Assert.True(exitCode == 0, output);
        Assert.Contains("kill -9 of p1's primary", output, StringComparison.Ordinal);
        Assert.Contains("while the move runs", output, StringComparison.Ordinal);
        Assert.Contains("client of p1: the secondary was promoted (epoch 2)", output, StringComparison.Ordinal);
        Assert.Contains("p1 is protected again", output, StringComparison.Ordinal);
        Assert.Contains("all checks passed", output, StringComparison.Ordinal);

        using var summary = JsonDocument.Parse(output.TrimEnd().Split('\n')[^1]);
        JsonElement root = summary.RootElement;
        Assert.Equal(0, root.GetProperty("writes_lost").GetInt32());
        Assert.Equal(0, root.GetProperty("bad_reads").GetInt32());
        Assert.Equal(0, root.GetProperty("reads_failed").GetInt32());
        Assert.Equal(2048, root.GetProperty("slots_moved").GetInt32());
        Assert.Equal(4, root.GetProperty("move_batches").GetInt32());
        Assert.True(root.GetProperty("entries_moved").GetInt64() > 0, output);
        Assert.Equal(0, root.GetProperty("failed_checks").GetArrayLength());

        // p1's keys, the moving ones, p2's (the target) and p3's: each group went on being written; p1 failed over
        // (epoch 2) and the others kept their primary and never failed a write.
        JsonElement[] pairs = [.. root.GetProperty("pairs").EnumerateArray()];
        Assert.Equal(["p1", "p1->p2", "p2", "p3"], pairs.Select(p => p.GetProperty("keys_of").GetString()));
        Assert.All(pairs, p => Assert.True(p.GetProperty("acknowledged_writes").GetInt64() > 0, p.ToString()));
        Assert.Equal(2UL, pairs[0].GetProperty("epoch").GetUInt64());
        Assert.All(pairs[2..], p =>
        {
            Assert.Equal(1UL, p.GetProperty("epoch").GetUInt64());
            Assert.Equal(0, p.GetProperty("writes_failed").GetInt32());
            Assert.Equal(0, p.GetProperty("reads_failed").GetInt32());
        });
        TestContext.Current.TestOutputHelper?.WriteLine(output);
    }

    [Fact]
    public async Task ClusterDemo_OnePair_IsRefusedWithTheReason()
    {
        (int exitCode, string output) = await DemoTests.RunCliAsync("demo", "--cluster", "1");

        Assert.NotEqual(0, exitCode);
        Assert.Contains("--cluster needs at least 2 pairs", output, StringComparison.Ordinal);
    }
}
