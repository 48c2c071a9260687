using MirrorKv.Cli.Cluster;

namespace MirrorKv.IntegrationTests;

public sealed class MoveStatsTests
{
    [Fact]
    public void ResumedBatches_AreCountedAsMoved_ButKeptOutOfTheFencePercentiles()
    {
        var stats = new MoveStats();
        stats.Add(slots: 1024, entries: 10, TimeSpan.FromMilliseconds(40));
        stats.Add(slots: 1024, entries: 12, TimeSpan.FromMilliseconds(60));
        stats.AddResumed(slots: 512, entries: 7, TimeSpan.FromMilliseconds(5));

        Assert.Equal(2560, stats.Slots);
        Assert.Equal(29, stats.Entries);
        Assert.Equal(2, stats.Batches);
        Assert.Equal(1, stats.ResumedBatches);

        // The resumed batch's 5 ms is only this run's part of a fence an earlier run raised: it must not pull p50 down.
        Assert.Equal(40, stats.FencedMs(0.5));
        Assert.Equal(60, stats.FencedMs(1));
        string line = stats.Describe();
        Assert.Contains("moved 2560 slots (29 entries) in 3 batches", line, StringComparison.Ordinal);
        Assert.Contains("fenced p50 40 ms, p99 60 ms, max 60 ms", line, StringComparison.Ordinal);
        Assert.Contains("1 of them resumed, their writes fenced since the run that stopped (this run's part up to 5 ms)", line, StringComparison.Ordinal);
    }

    [Fact]
    public void OnlyResumedBatches_ReportNoFencePercentiles()
    {
        var stats = new MoveStats();
        stats.AddResumed(slots: 100, entries: 1, TimeSpan.FromMilliseconds(300));

        string line = stats.Describe();
        Assert.Contains("moved 100 slots (1 entries) in 1 batches", line, StringComparison.Ordinal);
        Assert.DoesNotContain("p50", line, StringComparison.Ordinal);
        Assert.Contains("1 of them resumed", line, StringComparison.Ordinal);
        Assert.Equal("moved nothing: every slot is where it should be", new MoveStats().Describe());
    }
}
