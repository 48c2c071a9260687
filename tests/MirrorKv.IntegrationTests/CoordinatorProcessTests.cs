using System.Net;
using System.Text;
using MirrorKv.Adapter;
using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// A real pair with a real etcd as its witness (<c>serve --coordinator</c>): a paused or silently dead
/// secondary no longer stops the primary, a paused primary is replaced only through etcd and rejoins by
/// itself, an etcd outage does not stop a healthy pair, and a node restarted with stale flags asks etcd.
/// </summary>
[Collection(nameof(ProcessTests))]
public class CoordinatorProcessTests
{
    [Fact]
    public async Task PausedSecondary_PrimaryGoesOnAlone_ThenTheSecondaryRejoinsByItself()
    {
        await using WitnessedPair pair = await WitnessedPair.StartAsync();
        (EtcdProcess etcd, NodeProcess primary, NodeProcess secondary) = pair;
        await using MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [primary.EndPoint] });
        var writes = CheckedWriter.Start(client, "a-");

        await secondary.PauseAsync();
        await Task.Delay(1500);
        long during = writes.Acknowledged;
        await Waits.UntilAsync(() => writes.Acknowledged > during + 50, "writes to be acknowledged by the primary alone while the secondary is paused");
        NodeStatus alone = await MirrorKvAdmin.GetStatusAsync(primary.EndPoint);
        Assert.Equal((NodeRole.Primary, 1UL, false), (alone.Role, alone.Epoch, alone.Protected));

        await secondary.ResumeAsync();
        await primary.WaitProtectedAsync();
        await writes.StopAsync();
        await writes.AssertAllReadableAsync(client);
        Assert.Contains("dropping the secondary", primary.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Switchover_HandsTheLeaderKeyOver_NoWriteFails_AndTheOldPrimaryRejoins()
    {
        await using WitnessedPair pair = await WitnessedPair.StartAsync();
        (EtcdProcess etcd, NodeProcess primary, NodeProcess secondary) = pair;
        await using MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [primary.EndPoint, secondary.EndPoint] });
        Assert.True(await client.WaitForSecondaryAsync());
        var writes = CheckedWriter.Start(client, "w-");
        await Waits.UntilAsync(() => writes.Acknowledged > 50, "the writer to get going");

        (int exitCode, string output) = await DemoTests.RunCliAsync(TimeSpan.FromMinutes(1), "switchover", primary.EndPoint.ToString());
        Assert.True(exitCode == 0, output);
        long after = writes.Acknowledged;
        await Waits.UntilAsync(() => writes.Acknowledged > after + 50, "writes to go on at the new primary");
        await writes.StopAsync();
        Assert.True(writes.Errors.IsEmpty, $"writes failed during the switchover: {string.Join("; ", writes.Errors.Take(5))}");
        await writes.AssertAllReadableAsync(client);

        PairWitness.View view = await PairWitness.DescribeAsync(new CoordinatorOptions { EndPoints = [etcd.Url] });
        Assert.Equal((secondary.EndPoint, 2UL), (view.Leader, view.LeaderEpoch));
        Assert.Equal(NodeRole.Secondary, (await MirrorKvAdmin.GetStatusAsync(primary.EndPoint)).Role);
    }

    [Fact]
    public async Task SilentSecondaryDeath_PrimaryKeepsServing()
    {
        await using WitnessedPair pair = await WitnessedPair.StartAsync();
        (EtcdProcess etcd, NodeProcess primary, NodeProcess secondary) = pair;
        await using MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [primary.EndPoint] });
        await secondary.PauseAsync();
        await Task.Delay(1000);
        await secondary.KillAsync();

        for (int i = 0; i < 50; i++)
        {
            await client.SetAsync($"after-{i}", Encoding.UTF8.GetBytes($"{i}"));
        }

        NodeStatus status = await MirrorKvAdmin.GetStatusAsync(primary.EndPoint);
        Assert.Equal((NodeRole.Primary, 1UL), (status.Role, status.Epoch));
        Assert.Equal("49", Encoding.UTF8.GetString((await client.GetAsync("after-49"))!));
    }

    [Fact]
    public async Task PausedPrimary_IsReplacedOnlyThroughEtcd_AndRejoinsAsSecondary()
    {
        await using WitnessedPair pair = await WitnessedPair.StartAsync();
        (EtcdProcess etcd, NodeProcess primary, NodeProcess secondary) = pair;
        await using MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [primary.EndPoint] });
        await client.SetAsync("k", "v1"u8.ToArray());

        await primary.PauseAsync();
        await Waits.UntilAsync(async () => (await WitnessAsync(etcd)).Leader?.Equals(secondary.EndPoint) == true, "etcd to name the secondary once the paused primary's etcd lease expired", 20);
        await client.SetAsync("k", "v2"u8.ToArray());
        await primary.ResumeAsync();

        await secondary.WaitProtectedAsync();
        NodeStatus old = await MirrorKvAdmin.GetStatusAsync(primary.EndPoint);
        Assert.Equal((NodeRole.Secondary, 2UL), (old.Role, old.Epoch));
        PairWitness.View view = await WitnessAsync(etcd);
        Assert.Equal((secondary.EndPoint, 2UL, 2UL), (view.Leader, view.LeaderEpoch, view.LastEpoch));
        Assert.Equal("v2", Encoding.UTF8.GetString((await client.GetAsync("k"))!));
    }

    [Fact]
    public async Task EtcdOutage_DoesNotStopAHealthyPair()
    {
        await using WitnessedPair pair = await WitnessedPair.StartAsync();
        (EtcdProcess etcd, NodeProcess primary, NodeProcess secondary) = pair;
        await using MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [primary.EndPoint] });
        var writes = CheckedWriter.Start(client, "o-");

        await etcd.PauseAsync();
        await Task.Delay(TimeSpan.FromSeconds(4));
        await etcd.ResumeAsync();
        await Task.Delay(TimeSpan.FromSeconds(1));
        await writes.StopAsync();

        Assert.Empty(writes.Errors);
        NodeStatus p = await MirrorKvAdmin.GetStatusAsync(primary.EndPoint);
        Assert.Equal((NodeRole.Primary, 1UL, true), (p.Role, p.Epoch, p.Protected));
        await writes.AssertAllReadableAsync(client);
    }

    [Fact]
    public async Task KilledPrimary_RestartedWithStaleFlags_AsksEtcdAndJoinsTheLeader()
    {
        await using WitnessedPair pair = await WitnessedPair.StartAsync();
        (EtcdProcess etcd, NodeProcess primary, NodeProcess secondary) = pair;
        await primary.KillAsync();
        await Waits.UntilAsync(async () => (await WitnessAsync(etcd)).Leader?.Equals(secondary.EndPoint) == true, "the secondary to win the leader key after the primary's reset");

        await using NodeProcess restarted = await NodeProcess.StartPrimaryAsync("--coordinator", etcd.Url.ToString());
        await secondary.WaitProtectedAsync();
        NodeStatus status = await MirrorKvAdmin.GetStatusAsync(restarted.EndPoint);
        Assert.Equal((NodeRole.Secondary, 2UL), (status.Role, status.Epoch));
        Assert.Contains("starting as its secondary instead", restarted.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KilledPrimary_RestartedAtOnceAsPrimary_WhileTheSecondaryIsPaused_WaitsForIt_AndNothingIsLost()
    {
        await using WitnessedPair pair = await WitnessedPair.StartAsync();
        (EtcdProcess etcd, NodeProcess primary, NodeProcess secondary) = pair;
        await using (MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [primary.EndPoint] }))
        {
            for (int i = 0; i < 300; i++)
            {
                await client.SetAsync($"held-{i}", Encoding.UTF8.GetBytes($"v{i}"));
            }
        }

        // The only full copy is paused (a long GC pause, a starved VM) when the primary dies and its unit restarts it
        // at once with its old command line: an empty process that must not lead, or the copy would follow it.
        await secondary.PauseAsync();
        await primary.KillAsync();
        Task<NodeProcess> restarting = NodeProcess.StartAsync(["--role", "primary", "--coordinator", etcd.Url.ToString()], primary.EndPoint);
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(4));
            Assert.False(restarting.IsCompleted, "the restarted empty process got ready while the only full copy was paused");
            Assert.NotEqual(primary.EndPoint, (await WitnessAsync(etcd)).Leader);

            await secondary.ResumeAsync();
            NodeProcess restarted = await restarting;
            await secondary.WaitProtectedAsync();
            NodeStatus heir = await MirrorKvAdmin.GetStatusAsync(secondary.EndPoint);
            Assert.Equal((NodeRole.Primary, 2UL), (heir.Role, heir.Epoch));
            Assert.Equal(NodeRole.Secondary, (await MirrorKvAdmin.GetStatusAsync(restarted.EndPoint)).Role);
            Assert.Contains("not leading: etcd records", restarted.Output, StringComparison.Ordinal);
            await using MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [secondary.EndPoint, restarted.EndPoint] });
            for (int i = 0; i < 300; i++)
            {
                Assert.Equal($"v{i}", Encoding.UTF8.GetString(await client.GetAsync($"held-{i}") ?? []));
            }
        }
        finally
        {
            // A process that got ready is stopped here whatever failed; one still waiting stops itself at its timeout.
            if (restarting.IsCompletedSuccessfully)
            {
                await (await restarting).DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task BothNodesKilled_ThenTheOldPrimaryStartedFirst_StartsOver_AndTheOtherJoinsIt()
    {
        await using WitnessedPair pair = await WitnessedPair.StartAsync();
        (EtcdProcess etcd, NodeProcess primary, NodeProcess secondary) = pair;
        IPEndPoint at = primary.EndPoint;

        // A whole-pair restart: both processes gone (their memory too); etcd still records the secondary in sync.
        await Task.WhenAll(secondary.KillAsync(), primary.KillAsync());
        await using NodeProcess started = await NodeProcess.StartAsync(["--role", "primary", "--coordinator", etcd.Url.ToString()], at);
        NodeStatus status = await MirrorKvAdmin.GetStatusAsync(started.EndPoint);
        Assert.Equal(NodeRole.Primary, status.Role);
        Assert.True(status.Epoch >= 2, $"epoch {status.Epoch}");

        // The other node restarted with its old flags joins it.
        await using NodeProcess rejoined = await NodeProcess.StartAsync(["--role", "secondary", "--coordinator", etcd.Url.ToString()], secondary.EndPoint);
        await started.WaitProtectedAsync();
    }

    private static Task<PairWitness.View> WitnessAsync(EtcdProcess etcd) =>
        PairWitness.DescribeAsync(new CoordinatorOptions { EndPoints = [etcd.Url] });

    /// <summary>An etcd, a primary that leads in it, and a protected secondary; stopped in the reverse order.</summary>
    private sealed record WitnessedPair(EtcdProcess Etcd, NodeProcess Primary, NodeProcess Secondary) : IAsyncDisposable
    {
        public static async Task<WitnessedPair> StartAsync()
        {
            EtcdProcess etcd = await EtcdProcess.StartAsync();
            NodeProcess? primary = null, secondary = null;
            try
            {
                primary = await NodeProcess.StartPrimaryAsync("--coordinator", etcd.Url.ToString());

                // No --primary: the secondary asks etcd where the primary is.
                secondary = await NodeProcess.StartAsync(["--role", "secondary", "--coordinator", etcd.Url.ToString()]);
                await primary.WaitProtectedAsync();
                return new WitnessedPair(etcd, primary, secondary);
            }
            catch
            {
                await (secondary?.DisposeAsync() ?? ValueTask.CompletedTask);
                await (primary?.DisposeAsync() ?? ValueTask.CompletedTask);
                await etcd.DisposeAsync();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await Secondary.DisposeAsync();
            await Primary.DisposeAsync();
            await Etcd.DisposeAsync();
        }
    }
}
