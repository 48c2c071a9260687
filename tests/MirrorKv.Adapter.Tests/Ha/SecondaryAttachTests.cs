using System.Net;
using MirrorKv.Adapter;
using MirrorKv.Protocol;
using MirrorKv.Transport;
using MirrorKv.Transport.InProcess;

namespace MirrorKv.Adapter.Tests;

/// <summary>
/// A primary takes a new secondary only once the last one's loss is handled: a link closes on the thread that saw
/// it close, and its loss (detach, probe, etcd no longer naming it in sync) runs there a moment later, while the next
/// secondary's HELLO may arrive on another thread. Attached in that moment, the new secondary would take the stream
/// and the old link's loss would be dropped as not the current peer's.
/// </summary>
public sealed class SecondaryAttachTests
{
    [Fact]
    public async Task ClosedLinkNotYetDetached_RefusesTheNextSecondary_UntilItsLossIsHandled()
    {
        var network = new InProcessNetwork();
        await using MirrorKvNode primary = await PairFixture.StartPrimaryAsync(network);

        // A link whose close is never handed to the node (its handler drops it): the moment between the close and
        // the loss's handling, held open.
        IConnection oldLink = network.ConnectStream(PairFixture.SecondaryAddress, primary.EndPoint, new SilentHandler());
        Assert.True(primary.Stream.Attach(oldLink, primary.Epoch, () => { }, out _));
        Assert.True(primary.CanAttachSecondary(null, out _) is false);
        oldLink.Abort(null);
        Assert.False(oldLink.IsOpen);

        Assert.False(primary.CanAttachSecondary(null, out string? refusal));
        Assert.Equal(MirrorKvNode.ClosingLinkRefusal, refusal);
        IConnection newLink = network.ConnectStream(PairFixture.ClientAddress, primary.EndPoint, new SilentHandler());
        Assert.False(primary.Stream.Attach(newLink, primary.Epoch, () => { }, out _));
        Assert.Same(oldLink, primary.Stream.Peer);

        // The loss handled (the node's own close handling detaches it): the next secondary is welcome.
        primary.OnSecondaryLost(oldLink, null);
        Assert.Null(primary.Stream.Peer);
        Assert.True(primary.CanAttachSecondary(null, out refusal), refusal);
        Assert.Equal(NodeRole.Primary, primary.Role);
        newLink.Abort(null);
    }

    private sealed class SilentHandler : IStreamHandler
    {
        public void OnOpened(IConnection connection)
        {
        }

        public void OnBatchStart(IConnection connection)
        {
        }

        public int OnRequest(IConnection connection, ReadOnlySpan<byte> data, out int needed)
        {
            needed = 0;
            return data.Length;
        }

        public void OnBatchEnd(IConnection connection)
        {
        }

        public void OnClosed(IConnection connection, Exception? error)
        {
        }
    }
}
