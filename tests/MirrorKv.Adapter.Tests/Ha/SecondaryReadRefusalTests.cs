using System.Net;
using MirrorKv.Adapter;
using MirrorKv.Memory;
using MirrorKv.Protocol;
using MirrorKv.Transport.InProcess;

namespace MirrorKv.Adapter.Tests;

/// <summary>
/// A secondary that cannot vouch for holding every acknowledged write serves no read at all: not FAILOVER_READ,
/// LOOKUP or GET (refused before), and not a one-sided READ of its own region or the TRANSLATION that leads a client
/// there, which a client that lost its primary and rewrote its pointers would otherwise read stale.
/// </summary>
public sealed class SecondaryReadRefusalTests
{
    [Fact]
    public async Task SecondaryNeverToldThePairIsProtected_RefusesReadsOfItsRegion_AndTranslation()
    {
        var network = new InProcessNetwork();
        await using MirrorKvNode primary = await PairFixture.StartPrimaryAsync(network);
        var handle = new PairFixture.Handle(network);
        RawClient writer = await RawClient.ConnectAsync(handle, primary.EndPoint);
        Assert.Equal(WireStatus.Ok, (await writer.WriteAsync(1, "k", "v1")).Status);
        Assert.True(primary.Store.TryLookup("k"u8, out RemotePointer atPrimary, out _));

        // From the moment the secondary has copied everything, nothing passes between the two nodes: the primary's
        // word that the pair is protected never reaches it (the secondary's ack of its copy goes out as it turns
        // Secondary, so the primary cannot have said it before).
        MirrorKvNode? secondary = null;
        network.DropBatches((from, to) => secondary is { Role: NodeRole.Secondary } && IsLink(from, to));
        secondary = await PairFixture.StartSecondaryAsync(network, PairFixture.SecondaryAddress, primary.EndPoint);
        await using MirrorKvNode started = secondary;
        await Waits.UntilAsync(() => secondary.Role == NodeRole.Secondary, "the secondary to copy the primary's slabs");
        Assert.False(secondary.IsProtected, "the premise: the secondary was told the pair is protected before the link was cut");
        Assert.True(secondary.Store.TryLookup("k"u8, out RemotePointer atSecondary, out _));

        RawClient reader = await RawClient.ConnectAsync(handle, secondary.EndPoint);
        (WireStatus read, byte[] readPayload) = await reader.ReadAsync(atSecondary);
        Assert.Equal(WireStatus.UnknownRKey, read);
        Assert.Contains("cannot vouch", ErrorText.Read(readPayload), StringComparison.Ordinal);
        Assert.Equal(WireStatus.NotPrimary, (await reader.ReadAsync(atPrimary, Opcode.FailoverRead)).Status);
        Assert.Equal(WireStatus.NotPrimary, (await reader.TranslationAsync(atPrimary.RKey)).Status);
        Assert.Equal(WireStatus.NotPrimary, (await reader.LookupAsync("k")).Status);

        // Told at last (the link back), the same requests are served.
        network.DropBatches(null);
        await Waits.UntilAsync(() => secondary.IsProtected, "the secondary to hear that the pair is protected");
        Assert.Equal(WireStatus.Ok, (await reader.ReadAsync(atSecondary)).Status);
        Assert.Equal(WireStatus.Ok, (await reader.TranslationAsync(atPrimary.RKey)).Status);
    }

    private static bool IsLink(IPEndPoint from, IPEndPoint to) =>
        (from.Address.Equals(PairFixture.PrimaryAddress) && to.Address.Equals(PairFixture.SecondaryAddress))
        || (from.Address.Equals(PairFixture.SecondaryAddress) && to.Address.Equals(PairFixture.PrimaryAddress));
}
