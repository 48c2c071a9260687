using System.Net;
using System.Text;
using MirrorKv.Cli.Chaos;
using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// A client configured with the pair's endpoints (not "the primary") against real processes: it finds the
/// primary from either order and from a dead first endpoint, follows host names, recovers on its own when
/// any node it ever knew serves again, and no write under a failover reaches the caller as anything but
/// success, or Unavailable while no node can serve.
/// </summary>
[Collection(nameof(ProcessTests))]
public class ClientEndPointsProcessTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task EndPointsInEitherOrder_ClientStartsAndServes_WhicheverNodeIsPrimary(bool primaryFirst)
    {
        await using NodeProcess a = await NodeProcess.StartPrimaryAsync();
        await using NodeProcess b = await NodeProcess.StartSecondaryAsync(a.EndPoint);
        await a.WaitProtectedAsync();
        IReadOnlyList<EndPoint> endPoints = primaryFirst ? [a.EndPoint, b.EndPoint] : [b.EndPoint, a.EndPoint];

        await using (MirrorKvClient client = await ConnectAsync(endPoints))
        {
            Assert.Equal(a.EndPoint, client.PrimaryEndPoint);
            await client.SetAsync("k", "while a is primary"u8.ToArray());
        }

        // b takes over; a comes back as its secondary: the same list, in the same order, finds b.
        await a.KillAsync();
        await WaitRoleAsync(b, NodeRole.Primary, "b to promote after a's kill");
        await using NodeProcess a2 = await NodeProcess.StartAsync(["--role", "secondary", "--primary", b.EndPoint.ToString()], a.EndPoint);
        await b.WaitProtectedAsync();
        await using (MirrorKvClient client = await ConnectAsync(endPoints))
        {
            Assert.Equal((b.EndPoint, 2UL), (client.PrimaryEndPoint, client.Epoch));
            Assert.Equal("while a is primary", Encoding.UTF8.GetString((await client.GetAsync("k"))!));
            await client.SetAsync("k", "while b is primary"u8.ToArray());
            Assert.Equal("while b is primary", Encoding.UTF8.GetString((await client.GetAsync("k"))!));
        }
    }

    [Fact]
    public async Task FirstEndPointDead_OtherPromoted_ClientStartsAndWrites()
    {
        await using NodeProcess primary = await NodeProcess.StartPrimaryAsync();
        await using NodeProcess secondary = await NodeProcess.StartSecondaryAsync(primary.EndPoint);
        await primary.WaitProtectedAsync();
        await primary.KillAsync();
        await WaitRoleAsync(secondary, NodeRole.Primary, "the secondary to promote");

        await using MirrorKvClient client = await ConnectAsync([primary.EndPoint, secondary.EndPoint]);
        Assert.Equal((secondary.EndPoint, 2UL), (client.PrimaryEndPoint, client.Epoch));
        await client.SetAsync("k", "v"u8.ToArray());
        Assert.Equal("v", Encoding.UTF8.GetString((await client.GetAsync("k"))!));
    }

    [Fact]
    public async Task HostNames_LocalhostEndPoints_AreResolved_AndTheClientFollowsAFailover()
    {
        await using NodeProcess primary = await NodeProcess.StartPrimaryAsync();
        await using NodeProcess secondary = await NodeProcess.StartSecondaryAsync(primary.EndPoint);
        await primary.WaitProtectedAsync();

        // The nodes listen on 127.0.0.1 only: "localhost" may resolve to ::1 first, which refuses.
        IReadOnlyList<EndPoint> endPoints = MirrorKvEndPoints.Parse($"localhost:{secondary.EndPoint.Port}, localhost:{primary.EndPoint.Port}");
        Assert.All(endPoints, e => Assert.IsType<DnsEndPoint>(e));
        await using MirrorKvClient client = await ConnectAsync(endPoints);
        Assert.Equal(primary.EndPoint, client.PrimaryEndPoint);
        var writes = CheckedWriter.Start(client, "h-");
        await Waits.UntilAsync(() => writes.Acknowledged > 20, "the writer to get going");

        await primary.KillAsync();
        long before = writes.Acknowledged;
        await Waits.UntilAsync(() => writes.Acknowledged > before + 20, "writes to go on at the promoted secondary");
        await writes.StopAsync();
        Assert.Empty(writes.Errors);
        Assert.Equal(secondary.EndPoint, client.PrimaryEndPoint);
        await writes.AssertAllReadableAsync(client);
    }

    [Theory]
    [InlineData("configured")]
    [InlineData("learned")]
    public async Task BothNodesKilled_OneRestartedAtItsEndPoint_TheRunningClientRecovers(string restarted)
    {
        await using NodeProcess primary = await NodeProcess.StartPrimaryAsync();
        await using NodeProcess secondary = await NodeProcess.StartSecondaryAsync(primary.EndPoint);
        await primary.WaitProtectedAsync();

        // Configured with the primary alone: the secondary's endpoint is learned from the primary's HELLO.
        await using MirrorKvClient client = await ConnectAsync([primary.EndPoint], promotionWait: TimeSpan.FromSeconds(1));
        Assert.Contains(secondary.EndPoint, client.KnownEndPoints);
        var writes = CheckedWriter.Start(client, "r-");
        await Waits.UntilAsync(() => writes.Acknowledged > 20, "the writer to get going");

        // The secondary takes over (epoch 2), then dies too: nothing serves.
        await primary.KillAsync();
        await WaitRoleAsync(secondary, NodeRole.Primary, "the secondary to promote");
        await secondary.KillAsync();
        await Waits.UntilAsync(() => !writes.Errors.IsEmpty, "writes to fail while no node serves");

        // A fresh node (epoch 1, empty) at one of the old endpoints, started while the client runs.
        IPEndPoint at = restarted == "configured" ? primary.EndPoint : secondary.EndPoint;
        await using NodeProcess back = await NodeProcess.StartAsync(["--role", "primary"], at);
        long before = writes.Acknowledged;
        await Waits.UntilAsync(() => writes.Acknowledged > before + 20, $"writes to be acknowledged again by the node restarted at {at}", 20);
        await writes.StopAsync();

        Assert.Equal(at, client.PrimaryEndPoint);
        Assert.Empty(writes.ErrorsOtherThanUnavailable);
        await client.SetAsync("after", "recovered"u8.ToArray());
        Assert.Equal("recovered", Encoding.UTF8.GetString((await client.GetAsync("after"))!));
    }

    [Fact]
    public async Task PausedSecondary_WritesAreRetriedUntilThePrimaryServesAgain_NoneFails()
    {
        await using NodeProcess primary = await NodeProcess.StartPrimaryAsync();
        await using NodeProcess secondary = await NodeProcess.StartSecondaryAsync(primary.EndPoint);
        await primary.WaitProtectedAsync();
        await using MirrorKvClient client = await ConnectAsync([primary.EndPoint, secondary.EndPoint]);
        var writes = CheckedWriter.Start(client, "p-");
        await Waits.UntilAsync(() => writes.Acknowledged > 20, "the writer to get going");

        // The primary's lease runs out at 500 ms: it answers the writes it holds ReplicationFailed and stops
        // serving until the secondary, resumed, renews it: 2 s without a node that takes writes.
        await secondary.PauseAsync();
        await WaitRoleAsync(primary, NodeRole.Fenced, "the primary to fence once its lease ran out");
        await Task.Delay(TimeSpan.FromSeconds(2));
        await secondary.ResumeAsync();
        await primary.WaitProtectedAsync();
        long before = writes.Acknowledged;
        await Waits.UntilAsync(() => writes.Acknowledged > before + 20, "writes to be acknowledged again after the pause");
        await writes.StopAsync();

        Assert.Empty(writes.Errors);
        Assert.True(client.Stats.RetriedAfterFailure > 0, "no write was retried: the pause did not hit the writer");
        await writes.AssertAllReadableAsync(client);
    }

    [Theory]
    [InlineData("both ways")]
    [InlineData("secondary->primary")]
    public async Task DroppedPeerLink_WritesAreRetriedAtWhicheverNodeServes_NoneFails(string variant)
    {
        await using RelayedPair pair = await RelayedPair.StartAsync();
        await using MirrorKvClient client = await ConnectAsync([pair.Primary.EndPoint, pair.Secondary.EndPoint]);
        var writes = CheckedWriter.Start(client, "l-");
        await Waits.UntilAsync(() => writes.Acknowledged > 20, "the writer to get going");

        (LinkDirections atPrimary, LinkDirections atSecondary) = variant == "both ways"
            ? (LinkDirections.Both, LinkDirections.Both)
            : (LinkDirections.ToNode, LinkDirections.FromNode);
        pair.PrimaryRelay.Cut(atPrimary);
        pair.SecondaryRelay.Cut(atSecondary);
        await Task.Delay(TimeSpan.FromSeconds(2));
        pair.PrimaryRelay.Restore();
        pair.SecondaryRelay.Restore();

        NodeProcess final = await pair.WaitProtectedAsync();
        long before = writes.Acknowledged;
        await Waits.UntilAsync(() => writes.Acknowledged > before + 20, "writes to be acknowledged again after the cut");
        await writes.StopAsync();

        Assert.Empty(writes.Errors);

        // The client reaches the final primary at its own endpoint or at the relay it advertises (learned
        // from a write reply or the other node's HELLO): either is that node.
        IPEndPoint relay = final == pair.Primary ? pair.PrimaryRelay.EndPoint : pair.SecondaryRelay.EndPoint;
        Assert.Contains(client.PrimaryEndPoint, new[] { final.EndPoint, relay });
        await writes.AssertAllReadableAsync(client);
    }

    private static Task<MirrorKvClient> ConnectAsync(IReadOnlyList<EndPoint> endPoints, TimeSpan? promotionWait = null) =>
        MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = endPoints, PromotionWait = promotionWait ?? TimeSpan.FromSeconds(5) });

    private static async Task WaitRoleAsync(NodeProcess node, NodeRole role, string what)
    {
        await Waits.UntilAsync(async () =>
        {
            try
            {
                return (await MirrorKvAdmin.GetStatusAsync(node.EndPoint, timeout: TimeSpan.FromMilliseconds(500))).Role == role;
            }
            catch (MirrorKvException)
            {
                return false;
            }
        }, what, 20);
    }
}
