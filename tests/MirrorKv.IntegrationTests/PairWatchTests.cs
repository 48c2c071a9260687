using System.Diagnostics;
using MirrorKv.Cli.Chaos;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// The two-primary check of chaos against two real nodes that both are primary (two independent pairs' worth
/// of primaries, each with an unlimited lease): the check counts them, and reports no protected pair. A check
/// that could never fire would pass every chaos run.
/// </summary>
[Collection(nameof(ProcessTests))]
public class PairWatchTests
{
    [Fact]
    public async Task TwoPrimaries_AreCounted_AndThePairIsNotProtected()
    {
        await using NodeProcess first = await NodeProcess.StartPrimaryAsync();
        await using NodeProcess second = await NodeProcess.StartPrimaryAsync();
        var said = new List<string>();
        await using var watch = new PairWatch([first.EndPoint, second.EndPoint], null, line => { lock (said) { said.Add(line); } });

        await Waits.UntilAsync(() => watch.TwoPrimarySamples >= 3, "three samples with two primaries");
        Assert.Null(await watch.WaitProtectedAsync(Stopwatch.GetTimestamp(), TimeSpan.FromMilliseconds(300), CancellationToken.None));
        lock (said)
        {
            // Reported once when it starts, not once per sample.
            Assert.Single(said, line => line.StartsWith("TWO PRIMARIES", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task ProtectedPair_IsFound_WithItsPrimary_AndNoTwoPrimaries()
    {
        await using NodeProcess primary = await NodeProcess.StartPrimaryAsync();
        await using NodeProcess secondary = await NodeProcess.StartSecondaryAsync(primary.EndPoint);
        await using var watch = new PairWatch([secondary.EndPoint, primary.EndPoint], null, _ => { });

        (int Primary, long At, ulong Epoch)? found = await watch.WaitProtectedAsync(Stopwatch.GetTimestamp(), TimeSpan.FromSeconds(15), CancellationToken.None);

        Assert.NotNull(found);
        Assert.Equal((1, 1UL), (found.Value.Primary, found.Value.Epoch));
        Assert.Equal(0, watch.TwoPrimarySamples);
        Assert.True(watch.Samples > 0);
    }
}
