using MirrorKv.Adapter;
using MirrorKv.Protocol;
using MirrorKv.Store;
using MirrorKv.Transport.InProcess;

namespace MirrorKv.Adapter.Tests;

/// <summary>
/// A secondary that could not hold what its primary acknowledges (less memory, a smaller largest value) refuses to
/// follow it at the handshake (protocol 1.6), as it refuses another slab size: before, it attached, stopped following
/// at the first value it could not store, and left the primary acknowledging alone, so that a kill lost those writes.
/// </summary>
public sealed class SecondaryLimitsTests
{
    [Theory]
    [InlineData(4, false)]
    [InlineData(16, true)]
    public async Task SecondaryWithLessMemoryOrASmallerLargestValue_RefusesToFollow_NamingBothNodesLimits(int secondaryMiB, bool smallerValue)
    {
        var network = new InProcessNetwork();
        await using MirrorKvNode primary = await PairFixture.StartPrimaryAsync(network, store: PairFixture.SmallStore);
        StoreOptions smaller = PairFixture.SmallStore with { MaxMemory = (ulong)secondaryMiB << 20, MaxValueLength = smallerValue ? primary.Store.Options.EffectiveMaxValueLength / 2 : null };
        Assert.True(smaller.MaxMemory < primary.Store.Options.MaxMemory || smaller.EffectiveMaxValueLength < primary.Store.Options.EffectiveMaxValueLength);

        Exception refused = await Assert.ThrowsAnyAsync<Exception>(() => PairFixture.StartSecondaryAsync(network, PairFixture.SecondaryAddress, primary.EndPoint, smaller));
        Assert.Contains("a secondary needs at least its primary's limits", refused.ToString(), StringComparison.Ordinal);
        Assert.Contains($"holds up to {primary.Store.Options.MaxMemory} bytes", refused.ToString(), StringComparison.Ordinal);
        await Waits.UntilAsync(() => primary.Stream.Peer is null, "the primary to let go of the refused secondary's link");
        Assert.Equal(NodeRole.Primary, primary.Role);
    }

    [Fact]
    public async Task SecondaryWithTheSameOrLargerLimits_Follows()
    {
        var network = new InProcessNetwork();
        await using MirrorKvNode primary = await PairFixture.StartPrimaryAsync(network, store: PairFixture.SmallStore);
        await using MirrorKvNode secondary = await PairFixture.StartSecondaryAsync(network, PairFixture.SecondaryAddress, primary.EndPoint, PairFixture.SmallStore with { MaxMemory = 32UL << 20 });
        await Waits.UntilAsync(() => primary.IsProtected && secondary.IsProtected, "the pair to be protected");
    }

    [Fact]
    public void HelloReply_CarriesTheLimits_OnlyWhenSet()
    {
        var reply = new HelloReply { Role = NodeRole.Primary, Epoch = 3, Incarnation = 7, SlabSize = 1 << 20, MaxFrameSize = 1 << 22, Regions = [new RegionInfo(5, MirrorKv.Memory.AccessFlags.RemoteRead, 0x1000, 1 << 20)], HasRespEndPoint = true, Limits = new NodeLimits(16UL << 20, 123_456) };
        byte[] bytes = new byte[reply.Size];
        Assert.Equal(bytes.Length, reply.Write(bytes));
        Assert.Equal(WireStatus.Ok, HelloReply.TryRead(bytes, out HelloReply? back));
        Assert.Equal(new NodeLimits(16UL << 20, 123_456), back!.Limits);
        Assert.True(back.HasRespEndPoint);

        HelloReply without = reply with { Limits = null };
        bytes = new byte[without.Size];
        without.Write(bytes);
        Assert.Equal(WireStatus.Ok, HelloReply.TryRead(bytes, out back));
        Assert.Null(back!.Limits);
        Assert.Equal(HelloReply.LimitsSize, reply.Size - without.Size);
    }
}
