using MirrorKv.Client;
using MirrorKv.Memory;
using MirrorKv.Protocol;

namespace MirrorKv.Adapter.Tests;

/// <summary>
/// The check at the end of a batch a primary served: its replies leave only if its lease held through the
/// batch, whichever thread noticed a lapse first; a fence for another reason (a newer epoch) keeps them.
/// </summary>
public class BatchFenceTests
{
    [Fact]
    public async Task LeaseThatRanOut_FailsTheBatchEndCheck_EvenWhenAnotherThreadFencedTheNodeFirst()
    {
        await using MemberPair pair = await MemberPair.StartAsync();
        MirrorKvNode primary = pair.A.Node;
        Assert.True(primary.LeaseHeldThroughBatch());

        // The secondary stands still: no echo renews the lease, and the heartbeat timer fences the primary.
        pair.Network.Freeze(PairFixture.SecondaryAddress);
        await Waits.UntilAsync(() => primary.Role == NodeRole.Fenced, "the primary to fence once its lease ran out");

        // A batch that began before the fence must not send its replies now (CheckLease alone says "not a
        // primary, nothing to check" here, which let such replies leave).
        Assert.True(primary.CheckLease());
        Assert.False(primary.LeaseHeldThroughBatch());
        pair.Network.Thaw(PairFixture.SecondaryAddress);
    }

    [Fact]
    public async Task PrimaryFencedByANewerEpochInTheMiddleOfABatch_AnswersTheWholeBatch()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        RawClient writer = await RawClient.ConnectAsync(pair);
        Assert.Equal(WireStatus.Ok, (await writer.WriteAsync(1, "k", "v1")).Status);

        // Alone (its secondary gone), so that a newer epoch fences it: a secondary's echo would refute the claim.
        pair.Network.Crash(PairFixture.SecondaryAddress);
        await Waits.UntilAsync(() => !pair.Primary.IsProtected && pair.Primary.LeaseRemaining == TimeSpan.MaxValue, "the primary to go on alone");
        Assert.True(pair.Primary.Store.TryLookup("k"u8, out RemotePointer pointer, out _));
        NodeChannel channel = await NodeChannel.ConnectAsync(pair.Network.CreateTransport(PairFixture.ClientAddress), pair.Primary.EndPoint,
            new NodeChannelOptions(null, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(5)), _ => { }, CancellationToken.None);

        // One batch: a READ served while the node is primary under a valid lease, then a request with a newer
        // epoch, which a primary alone takes as proof that it was replaced: it fences on the spot (docs/protocol.md: NotPrimary).
        PendingOperation read = channel.Rent();
        PendingOperation replaced = channel.Rent();
        channel.PostRead(read, Opcode.Read, pointer, flush: false);
        channel.PostKv(replaced, Opcode.Write, 2, default, "k"u8, "stale"u8, flush: true);

        await read.AsValueTask();
        await replaced.AsValueTask();
        Assert.Equal((WireStatus.Ok, WireStatus.NotPrimary), (read.Status, replaced.Status));
        Assert.Equal(NodeRole.Fenced, pair.Primary.Role);
        await channel.DisposeAsync();
    }
}
