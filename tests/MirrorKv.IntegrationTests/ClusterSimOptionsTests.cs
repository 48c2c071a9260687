using MirrorKv.Cli.Simulation;

namespace MirrorKv.IntegrationTests;

/// <summary>The arguments of <c>cluster-sim</c>: defaults, each option, and a clear error for a bad one.</summary>
public class ClusterSimOptionsTests
{
    [Fact]
    public void Parse_Defaults_StartEveryWatcherAtOnce()
    {
        ClusterSimOptions options = ClusterSimOptions.Parse([]);
        Assert.Equal((100, 6, 300, 0), (options.Pairs, options.Changes, options.ChangeLimitSeconds, options.StartRate));
    }

    [Fact]
    public void Parse_TakesEachOption()
    {
        ClusterSimOptions options = ClusterSimOptions.Parse(["--pairs", "1000", "--node-pairs", "0", "--changes", "2", "--change-limit", "60", "--start-rate", "8"]);
        Assert.Equal((1000, 0, 2, 60, 8), (options.Pairs, options.NodePairs, options.Changes, options.ChangeLimitSeconds, options.StartRate));
    }

    [Theory]
    [InlineData("--start-rate", "-1", "--start-rate must be a whole number of at least 0; got -1")]
    [InlineData("--start-rate", "fast", "--start-rate must be a whole number of at least 0; got fast")]
    [InlineData("--pairs", "0", "--pairs must be a whole number of at least 1; got 0")]
    [InlineData("--bogus", "1", "unknown option --bogus")]
    public void Parse_BadArgument_SaysWhich(string name, string value, string message) =>
        Assert.Equal(message, Assert.Throws<ArgumentException>(() => ClusterSimOptions.Parse([name, value])).Message);
}
