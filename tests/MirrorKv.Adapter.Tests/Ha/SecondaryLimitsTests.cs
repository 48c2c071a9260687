using MirrorKv.Adapter;
using MirrorKv.Protocol;
using MirrorKv.Store;
using MirrorKv.Transport.InProcess;

namespace MirrorKv.Adapter.Tests;

/// <summary>
/// A secondary that could not hold what its primary acknowledges (less memory, a smaller largest value) refuses to
/// follow it at the handshake (protocol 1.6), as it refuses another slab size: before, it attached, stopped following
/// at the first value it could not store, and left the primary acknowledging alone, so that a kill lost those writes.
/// So does one with another eviction policy or replication mode, which it would serve by once promoted: an operator's
/// experiment had a noeviction pair evict 3,638 of 10,000 keys after a failover to an allkeys-lru secondary.
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

    [Theory]
    [InlineData(EvictionPolicy.NoEviction, EvictionPolicy.AllKeysLru, "--eviction noeviction, this node --eviction allkeys-lru")]
    [InlineData(EvictionPolicy.AllKeysLfu, EvictionPolicy.NoEviction, "--eviction allkeys-lfu, this node --eviction noeviction")]
    [InlineData(EvictionPolicy.VolatileTtl, EvictionPolicy.AllKeysLru, "(start this node with --eviction volatile-ttl)")]
    public async Task SecondaryWithAnotherEvictionPolicy_RefusesToFollow_NamingBoth(EvictionPolicy primaryPolicy, EvictionPolicy secondaryPolicy, string expected)
    {
        var network = new InProcessNetwork();
        await using MirrorKvNode primary = await PairFixture.StartPrimaryAsync(network, store: PairFixture.SmallStore with { Eviction = primaryPolicy });
        Exception refused = await Assert.ThrowsAnyAsync<Exception>(() => PairFixture.StartSecondaryAsync(network, PairFixture.SecondaryAddress, primary.EndPoint, PairFixture.SmallStore with { Eviction = secondaryPolicy }));
        Assert.Contains(expected, refused.ToString(), StringComparison.Ordinal);
        await Waits.UntilAsync(() => primary.Stream.Peer is null, "the primary to let go of the refused secondary's link");
        Assert.Equal(NodeRole.Primary, primary.Role);
    }

    [Fact]
    public async Task SecondaryWithAnotherReplicationMode_RefusesToFollow_NamingBoth()
    {
        var network = new InProcessNetwork();
        await using MirrorKvNode primary = await PairFixture.StartPrimaryAsync(network, ReplicationMode.Sync);
        Exception refused = await Assert.ThrowsAnyAsync<Exception>(() => PairFixture.StartSecondaryAsync(network, PairFixture.SecondaryAddress, primary.EndPoint, mode: ReplicationMode.Async));
        Assert.Contains("runs --replication sync, this node --replication async", refused.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AsyncPairWithTheSamePolicy_Follows()
    {
        var network = new InProcessNetwork();
        StoreOptions lru = PairFixture.SmallStore with { Eviction = EvictionPolicy.AllKeysLru };
        await using MirrorKvNode primary = await PairFixture.StartPrimaryAsync(network, ReplicationMode.Async, lru);
        await using MirrorKvNode secondary = await PairFixture.StartSecondaryAsync(network, PairFixture.SecondaryAddress, primary.EndPoint, lru, ReplicationMode.Async);
        await Waits.UntilAsync(() => primary.IsProtected && secondary.IsProtected, "the pair to be protected");
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
        var reply = new HelloReply { Role = NodeRole.Primary, Epoch = 3, Incarnation = 7, SlabSize = 1 << 20, MaxFrameSize = 1 << 22, Regions = [new RegionInfo(5, MirrorKv.Memory.AccessFlags.RemoteRead, 0x1000, 1 << 20)], HasRespEndPoint = true, Limits = new NodeLimits(16UL << 20, 123_456, Eviction: 3, Replication: 2) };
        byte[] bytes = new byte[reply.Size];
        Assert.Equal(bytes.Length, reply.Write(bytes));
        Assert.Equal(WireStatus.Ok, HelloReply.TryRead(bytes, out HelloReply? back));
        Assert.Equal(new NodeLimits(16UL << 20, 123_456, 3, 2), back!.Limits);

        // The policy bytes sit where a 1.6 node of before them sent a reserved zero word: it reads them as "not told".
        Assert.Equal([3, 2, 0, 0], bytes[^4..]);
        Assert.True(back.HasRespEndPoint);

        HelloReply without = reply with { Limits = null };
        bytes = new byte[without.Size];
        without.Write(bytes);
        Assert.Equal(WireStatus.Ok, HelloReply.TryRead(bytes, out back));
        Assert.Null(back!.Limits);
        Assert.Equal(HelloReply.LimitsSize, reply.Size - without.Size);
    }
}
