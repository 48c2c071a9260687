using MirrorKv.Adapter;
using MirrorKv.Protocol;

namespace MirrorKv.Adapter.Tests;

/// <summary>
/// The operator's classic mistake after a failover: the killed primary started again with its old command line,
/// as primary, without <c>--peer</c>. It knows nothing of the pair; the promoted node knows its lost peer's endpoint,
/// finds a primary of an older epoch serving there, and tells it that it was replaced: it fences and rejoins as the
/// promoted node's secondary, so the pair has one primary again and is protected, with no operator.
/// </summary>
public sealed class StalePrimaryTests
{
    [Fact]
    public async Task KilledPrimaryRestartedAsPrimary_IsToldItWasReplaced_AndRejoinsThePromotedNode()
    {
        await using MemberPair pair = await MemberPair.StartAsync();
        RawClient toA = await pair.ConnectRawAsync(pair.A.Node.EndPoint);
        Assert.Equal(WireStatus.Ok, (await toA.WriteAsync(1, "before", "v1")).Status);
        NodeOptions original = pair.A.Node.Options;

        pair.Network.Crash(PairFixture.PrimaryAddress);
        await Waits.UntilAsync(() => pair.B.Node is { Role: NodeRole.Primary, Epoch: 2 }, "the secondary to promote");
        RawClient toB = await pair.ConnectRawAsync(pair.B.Node.EndPoint);
        Assert.Equal(WireStatus.Ok, (await toB.WriteAsync(2, "after", "v2")).Status);

        // The old command line: primary, epoch 1, empty, at the old endpoint.
        await using PairMember restarted = await PairMember.StartAsync(original, pair.Network.CreateTransport(PairFixture.PrimaryAddress));
        Assert.Equal(1UL, restarted.Node.Epoch);
        await Waits.UntilAsync(
            () => pair.B.Node is { Role: NodeRole.Primary, Epoch: 2, IsProtected: true } && restarted.Node is { Role: NodeRole.Secondary, IsProtected: true },
            "the restarted node to be told it was replaced and to rejoin the promoted one", 15, () => string.Join("\n", pair.Lines.TakeLast(40)));
        Assert.True(pair.B.Node.StalePrimariesFenced >= 1);
        Assert.Equal(1, restarted.Rejoins);

        // It holds the pair's data now, the write made after the failover included; writes go on at the promoted node.
        Assert.True(restarted.Node.Store.TryLookup("before"u8, out _, out _));
        Assert.True(restarted.Node.Store.TryLookup("after"u8, out _, out _));
        Assert.Equal(WireStatus.Ok, (await toB.WriteAsync(2, "later", "v3")).Status);
    }

    [Fact]
    public async Task KilledSecondaryRestartedAsPrimary_AtTheSameEpoch_IsToldItWasReplaced_AndRejoins()
    {
        await using MemberPair pair = await MemberPair.StartAsync();
        RawClient toA = await pair.ConnectRawAsync(pair.A.Node.EndPoint);
        Assert.Equal(WireStatus.Ok, (await toA.WriteAsync(1, "before", "v1")).Status);
        NodeOptions original = pair.B.Node.Options;

        // The secondary's kernel closes the link: the primary finds nothing at its endpoint and goes on alone. The
        // crashed node's code is stopped too, as a killed process's is: on the in-process network it would otherwise
        // go on running (it saw its link close and promoted itself) and dial out again once its address is reused.
        pair.Network.Crash(PairFixture.SecondaryAddress);
        await pair.B.DisposeAsync();
        await Waits.UntilAsync(() => pair.A.Node is { Role: NodeRole.Primary, IsProtected: false }, "the primary to go on alone");
        Assert.Equal(WireStatus.Ok, (await toA.WriteAsync(1, "alone", "v2")).Status);

        // Started again as primary, without --peer: empty, at epoch 1, the primary's own epoch.
        await using PairMember restarted = await PairMember.StartAsync(original with { Role = NodeRole.Primary, PrimaryEndPoint = null }, pair.Network.CreateTransport(PairFixture.SecondaryAddress));
        Assert.Equal(1UL, restarted.Node.Epoch);
        await Waits.UntilAsync(
            () => pair.A.Node is { Role: NodeRole.Primary, Epoch: 2, IsProtected: true } && restarted.Node is { Role: NodeRole.Secondary, Epoch: 2, IsProtected: true },
            "the primary to move above the restarted node's epoch, tell it, and have it rejoin", 15, () => string.Join("\n", pair.Lines.TakeLast(40)));
        Assert.True(pair.A.Node.StalePrimariesFenced >= 1);
        Assert.Equal(1, restarted.Rejoins);
        Assert.True(restarted.Node.Store.TryLookup("before"u8, out _, out _));
        Assert.True(restarted.Node.Store.TryLookup("alone"u8, out _, out _));

        // A client of the old epoch is told so (StaleEpoch) and writes at the new one.
        Assert.Equal(WireStatus.StaleEpoch, (await toA.WriteAsync(1, "late", "v3")).Status);
        Assert.Equal(WireStatus.Ok, (await toA.WriteAsync(2, "late", "v3")).Status);
    }
}
