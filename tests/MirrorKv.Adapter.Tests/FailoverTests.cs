using System.Text;
using MirrorKv.Adapter;
using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.Adapter.Tests;

/// <summary>
/// Failure handling on the in-process network: promotion under a higher epoch after a crash or a silent
/// primary, fencing of a primary cut off from its secondary, and a lone primary after its secondary died.
/// </summary>
public class FailoverTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task PrimaryCrash_SecondaryPromotesAtOnce_AndClientWritesResumeThere(bool completeOnReceiveThread)
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync(completeOnReceiveThread: completeOnReceiveThread);
        for (int i = 0; i < 100; i++)
        {
            await client.SetAsync($"k{i}", Encoding.UTF8.GetBytes($"v{i}"));
        }

        pair.Network.Crash(PairFixture.PrimaryAddress);
        await client.SetAsync("after", "x"u8.ToArray());

        Assert.Equal((NodeRole.Primary, 2UL), (pair.Secondary.Role, pair.Secondary.Epoch));
        Assert.Equal(1, client.PromotionsFollowed);
        Assert.Equal(pair.Secondary.EndPoint, client.PrimaryEndPoint);
        Assert.Equal(ClientPath.Primary, client.Path);
        Assert.Equal("x"u8.ToArray(), await client.GetAsync("after"));
        for (int i = 0; i < 100; i++)
        {
            Assert.Equal(Encoding.UTF8.GetBytes($"v{i}"), await client.GetAsync($"k{i}"));
            await client.SetAsync($"k{i}", Encoding.UTF8.GetBytes($"w{i}"));
            Assert.Equal(Encoding.UTF8.GetBytes($"w{i}"), await client.GetAsync($"k{i}"));
        }

        Assert.True(await client.DeleteAsync("k0"));
        Assert.Null(await client.GetAsync("k0"));
    }

    [Fact]
    public async Task Partition_PrimaryFencesFirst_ThenSecondaryPromotes_AndOldPrimaryRefusesEverything()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync();
        await client.SetAsync("before", "1"u8.ToArray());

        pair.Network.Partition(PairFixture.PrimaryAddress, PairFixture.SecondaryAddress);
        await Waits.UntilAsync(() => pair.Primary.Role == NodeRole.Fenced, seconds: 3);
        Assert.Equal(NodeRole.Secondary, pair.Secondary.Role);
        await Waits.UntilAsync(() => pair.Secondary.Role == NodeRole.Primary, seconds: 3);
        Assert.Equal(2UL, pair.Secondary.Epoch);

        // The client can still reach the fenced primary; it is refused there and follows the promotion.
        await client.SetAsync("during", "2"u8.ToArray());
        Assert.Equal(pair.Secondary.EndPoint, client.PrimaryEndPoint);
        Assert.Equal("1"u8.ToArray(), await client.GetAsync("before"));
        Assert.Equal("2"u8.ToArray(), await client.GetAsync("during"));

        MirrorKvClient stale = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [pair.Primary.EndPoint], Transport = pair.Network.CreateTransport(PairFixture.ClientAddress) })
            .ContinueWith(t => t.IsFaulted ? null! : t.Result);
        Assert.Null(stale);
    }

    [Fact]
    public async Task SyncWrite_PendingWhenPrimaryFences_IsRetriedByTheClientOnThePromotedSecondary()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync();
        pair.Network.Partition(PairFixture.PrimaryAddress, PairFixture.SecondaryAddress);

        // The node answers it ReplicationFailed (LeaseAndHealingTests checks that on the wire); the client
        // sends it again to the promoted secondary, so the caller sees no error.
        await client.SetAsync("held", "v"u8.ToArray()).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(NodeRole.Fenced, pair.Primary.Role);
        Assert.Equal((NodeRole.Primary, 2UL), (pair.Secondary.Role, pair.Secondary.Epoch));
        Assert.Equal("v"u8.ToArray(), await client.GetAsync("held"));
    }

    [Fact]
    public async Task SecondaryCrash_PrimaryGoesOnAloneWithoutHoldingWrites()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync();
        pair.Network.Crash(PairFixture.SecondaryAddress);
        await Waits.UntilAsync(() => !pair.Primary.IsProtected, seconds: 2);

        await client.SetAsync("alone", "v"u8.ToArray()).AsTask().WaitAsync(TimeSpan.FromSeconds(2));

        // Writes acknowledged throughout twice the fence timeout: a primary that fenced for want of its secondary
        // would have refused some of them.
        await PairFixture.WriteThroughAsync(client, pair.Primary.Options.FenceAfter * 2);
        Assert.Equal(NodeRole.Primary, pair.Primary.Role);
        Assert.Equal("v"u8.ToArray(), await client.GetAsync("alone"));
    }

    /// <summary>
    /// A kill -9 as the kernel carries it out: the secondary's link resets before its listening socket closes, so
    /// the primary's first probes of its endpoint are reset rather than refused. Neither an answer nor a refusal:
    /// asked again, the endpoint refuses, and the primary goes on alone instead of fencing until the peer returns.
    /// </summary>
    [Fact]
    public async Task SecondaryCrash_ProbesResetOnItsWayOut_PrimaryGoesOnAloneNotFenced()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync();
        pair.Network.Crash(PairFixture.SecondaryAddress, resetConnects: 2);
        await Waits.UntilAsync(() => !pair.Primary.IsProtected, seconds: 2);

        await client.SetAsync("alone", "v"u8.ToArray()).AsTask().WaitAsync(TimeSpan.FromSeconds(2));
        await PairFixture.WriteThroughAsync(client, pair.Primary.Options.FenceAfter * 2);
        Assert.Equal(NodeRole.Primary, pair.Primary.Role);
        Assert.Equal("v"u8.ToArray(), await client.GetAsync("alone"));
    }

    [Fact]
    public async Task PrimaryCrash_BetweenSecondaryApplyAndAck_WriteIsRetriedAndSurvivesOnce()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync();

        // The secondary applies the record, but its ack never reaches the primary.
        pair.Network.DropBatches((from, to) => from.Address.Equals(PairFixture.SecondaryAddress) && to.Address.Equals(PairFixture.PrimaryAddress));
        Task write = client.SetAsync("k", "v1"u8.ToArray()).AsTask();
        await Waits.UntilAsync(() => pair.Secondary.Lsn >= 1);
        Assert.False(write.IsCompleted, "without the ack the write must not be acknowledged");

        pair.Network.DropBatches(null);
        pair.Network.Crash(PairFixture.PrimaryAddress);
        await write.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("v1"u8.ToArray(), await client.GetAsync("k"));
        Assert.Equal(1, pair.Secondary.Store.GetStats().Entries);
    }

    [Fact]
    public async Task PrimaryCrash_DuringReplication_UnreplicatedWriteIsRetriedOnPromotedSecondary()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync();
        await client.SetAsync("before", "1"u8.ToArray());

        // The record never reaches the secondary; the primary dies holding the unacknowledged write.
        int dropped = 0;
        pair.Network.DropBatches((from, to) => from.Address.Equals(PairFixture.PrimaryAddress) && to.Address.Equals(PairFixture.SecondaryAddress) && Interlocked.Increment(ref dropped) > 0);
        ulong lsn = pair.Primary.Lsn;
        Task write = client.SetAsync("k", "v"u8.ToArray()).AsTask();
        await Waits.UntilAsync(() => pair.Primary.Lsn > lsn, "the primary to append the write's record", context: () => $"LSN {pair.Primary.Lsn}, {Volatile.Read(ref dropped)} batches dropped, write {write.Status}");

        // A batch that left after the record was appended has been dropped: the record went out (in order) and is gone.
        int droppedBefore = Volatile.Read(ref dropped);
        await Waits.UntilAsync(() => Volatile.Read(ref dropped) > droppedBefore, "a batch to the secondary after the record to be dropped");
        Assert.False(write.IsCompleted);
        Assert.Equal(1UL, pair.Secondary.Lsn);

        pair.Network.DropBatches(null);
        pair.Network.Crash(PairFixture.PrimaryAddress);
        await write.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(NodeRole.Primary, pair.Secondary.Role);
        Assert.Equal("v"u8.ToArray(), await client.GetAsync("k"));
        Assert.Equal("1"u8.ToArray(), await client.GetAsync("before"));
    }

    [Fact]
    public async Task Partition_Healed_OldPrimaryStaysFenced_NewPrimaryKeepsWrites()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync();
        pair.Network.Partition(PairFixture.PrimaryAddress, PairFixture.SecondaryAddress);
        await Waits.UntilAsync(() => pair.Secondary.Role == NodeRole.Primary);
        await client.SetAsync("k", "new"u8.ToArray());

        pair.Network.Heal();

        // Writes acknowledged by the new primary throughout a promotion timeout after the heal.
        await PairFixture.WriteThroughAsync(client, pair.Primary.Options.PromoteAfter);
        Assert.Equal((NodeRole.Fenced, NodeRole.Primary), (pair.Primary.Role, pair.Secondary.Role));
        var raw = await RawClient.ConnectAsync(pair);
        (WireStatus status, _) = await raw.WriteAsync(epoch: 1, "k", "old");
        Assert.Equal(WireStatus.NotPrimary, status);
        Assert.Equal("new"u8.ToArray(), await client.GetAsync("k"));
    }

    [Fact]
    public async Task IdlePair_HeartbeatsKeepBothRoles()
    {
        await using PairFixture pair = await PairFixture.StartAsync();

        // Count what crosses the idle link each way (heartbeats and their echoes), dropping nothing: enough rounds
        // for twice the promotion timeout, rather than a sleep a loaded machine could pass without a heartbeat.
        int toSecondary = 0, toPrimary = 0;
        pair.Network.DropBatches((from, _) =>
        {
            Interlocked.Increment(ref from.Address.Equals(PairFixture.PrimaryAddress) ? ref toSecondary : ref toPrimary);
            return false;
        });
        int rounds = (int)(pair.Primary.Options.PromoteAfter * 2 / pair.Primary.Options.HeartbeatInterval);
        await Waits.UntilAsync(() => Volatile.Read(ref toSecondary) >= rounds && Volatile.Read(ref toPrimary) >= rounds, $"{rounds} heartbeat rounds on the idle link");
        Assert.Equal((NodeRole.Primary, NodeRole.Secondary), (pair.Primary.Role, pair.Secondary.Role));
        Assert.Equal(1UL, pair.Secondary.Epoch);
        Assert.True(pair.Primary.IsProtected && pair.Secondary.IsProtected);
    }

    [Fact]
    public async Task Write_CarryingNewerEpoch_WhileTheSecondaryConfirmsThePrimary_IsRefused_AndNothingFailsOver()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync();
        await client.SetAsync("k", "v"u8.ToArray());

        // A client's word alone (a bug, a forged request) does not fence a primary whose secondary echoes its
        // heartbeats: no node of the pair can be at epoch 7.
        var raw = await RawClient.ConnectAsync(pair);
        (WireStatus status, string message) = await raw.WriteAsync(epoch: 7, "k", "new");
        Assert.Equal(WireStatus.StaleEpoch, status);
        Assert.Contains("no node of this pair has the request's epoch", message, StringComparison.Ordinal);

        // Writes acknowledged throughout twice the promotion delay: a fenced primary, or a promoted secondary,
        // would have refused or redirected some of them.
        await PairFixture.WriteThroughAsync(client, pair.Primary.Options.PromoteAfter * 2);
        Assert.Equal((NodeRole.Primary, 1UL, NodeRole.Secondary), (pair.Primary.Role, pair.Primary.Epoch, pair.Secondary.Role));
        Assert.Equal("v"u8.ToArray(), await client.GetAsync("k"));
        Assert.Equal(0, client.PromotionsFollowed);
    }

    [Fact]
    public async Task Write_CarryingNewerEpoch_AtAPrimaryWithNoSecondaryToConfirmIt_MakesItStepDown()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync();
        await client.SetAsync("k", "v"u8.ToArray());
        pair.Network.Crash(PairFixture.SecondaryAddress);
        await Waits.UntilAsync(() => !pair.Primary.IsProtected, seconds: 2);
        await client.SetAsync("alone", "v"u8.ToArray());

        // Alone, the primary cannot tell a newer primary from a wrong client: it takes the safe side.
        var raw = await RawClient.ConnectAsync(pair);
        (WireStatus status, string message) = await raw.WriteAsync(epoch: 7, "k", "new");
        Assert.Equal(WireStatus.NotPrimary, status);
        Assert.Contains("Fenced", message, StringComparison.Ordinal);
        Assert.Equal(NodeRole.Fenced, pair.Primary.Role);
    }
}
