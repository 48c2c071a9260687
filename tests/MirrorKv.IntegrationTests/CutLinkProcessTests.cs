using System.Net;
using MirrorKv.Cli.Chaos;
using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// Real processes in pair mode (no witness), each behind the relay chaos uses (<see cref="PeerLinkRelay"/>):
/// the peer link black-holed both ways or one way for twice the promotion timeout, and a secondary that dies
/// behind a cut link (no reset ever reaches the primary). Writers run throughout and a watcher samples both
/// nodes' STATUS: never two serving primaries, every acknowledged write on the final primary, and the pair
/// protected again with no operator action once the link heals or the lost node is restarted.
/// </summary>
[Collection(nameof(ProcessTests))]
public sealed class CutLinkProcessTests
{
    private static readonly TimeSpan Cut = TimeSpan.FromSeconds(2);

    [Theory]
    [InlineData("both ways")]
    [InlineData("primary->secondary")]
    [InlineData("secondary->primary")]
    public async Task CutLink_NeverTwoPrimaries_NothingAcknowledgedIsLost_AndThePairHealsWhenTheLinkIsBack(string variant)
    {
        await using RelayedPair pair = await RelayedPair.StartAsync();
        await using MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [pair.PrimaryRelay.EndPoint] });
        Assert.True(await client.WaitForSecondaryAsync());
        var writes = CheckedWriter.Start(client, "c-");
        await Waits.UntilAsync(() => writes.Acknowledged > 20, "the writer to get going");

        (LinkDirections atPrimary, LinkDirections atSecondary) = variant switch
        {
            "both ways" => (LinkDirections.Both, LinkDirections.Both),
            "primary->secondary" => (LinkDirections.FromNode, LinkDirections.ToNode),
            _ => (LinkDirections.ToNode, LinkDirections.FromNode),
        };
        pair.PrimaryRelay.Cut(atPrimary);
        pair.SecondaryRelay.Cut(atSecondary);
        await Task.Delay(Cut);
        pair.PrimaryRelay.Restore();
        pair.SecondaryRelay.Restore();

        // Whichever node serves at the end, the other is its caught-up secondary, by itself.
        NodeProcess final = await pair.WaitProtectedAsync();
        long before = writes.Acknowledged;
        await Waits.UntilAsync(() => writes.Acknowledged > before + 20, "writes to be acknowledged again after the cut");
        await writes.StopAsync();

        Assert.Equal(0, pair.Watch.TwoPrimarySamples);
        Assert.True(pair.Watch.Samples > 50, $"the watcher took only {pair.Watch.Samples} samples");
        NodeStatus status = await MirrorKvAdmin.GetStatusAsync(final.EndPoint);
        Assert.Equal(NodeRole.Primary, status.Role);
        await writes.AssertAllReadableAsync(client);
    }

    [Fact]
    public async Task SilentSecondaryDeath_PrimaryStopsServing_ThenTakesTheRestartedSecondaryBack_WithNothingLost()
    {
        await using RelayedPair pair = await RelayedPair.StartAsync();
        await using MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [pair.PrimaryRelay.EndPoint] });
        var writes = CheckedWriter.Start(client, "d-");
        await Waits.UntilAsync(() => writes.Acknowledged > 20, "the writer to get going");

        // Host lost: nothing from the secondary reaches the primary any more, not even its death.
        pair.PrimaryRelay.Cut(LinkDirections.Both);
        pair.SecondaryRelay.Cut(LinkDirections.Both);
        await pair.Secondary.KillAsync();
        await Waits.UntilAsync(async () => (await MirrorKvAdmin.GetStatusAsync(pair.Primary.EndPoint)).Role == NodeRole.Fenced,
            "the primary to stop serving: alone, it cannot tell a dead secondary from one that promoted behind the cut", 10);
        await Task.Delay(Cut);
        Assert.Equal(NodeRole.Fenced, (await MirrorKvAdmin.GetStatusAsync(pair.Primary.EndPoint)).Role);
        pair.PrimaryRelay.Restore();
        pair.SecondaryRelay.Restore();

        // The operator restarts the lost node as after any kill: its old incarnation is provably gone.
        await pair.RestartSecondaryAsync();
        await pair.Primary.WaitProtectedAsync();
        long before = writes.Acknowledged;
        await Waits.UntilAsync(() => writes.Acknowledged > before + 20, "writes to be acknowledged again");
        await writes.StopAsync();

        Assert.Equal(0, pair.Watch.TwoPrimarySamples);
        NodeStatus status = await MirrorKvAdmin.GetStatusAsync(pair.Primary.EndPoint);
        Assert.Equal((NodeRole.Primary, 3UL), (status.Role, status.Epoch));
        await writes.AssertAllReadableAsync(client);
        Assert.Contains("fenced", pair.Primary.Output, StringComparison.Ordinal);
    }
}
