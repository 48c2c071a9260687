using System.Diagnostics;
using System.Net;
using System.Threading.Channels;

namespace MirrorKv.Transport.InProcess;

/// <summary>One end of an in-process connection: batches are copied into the peer's inbound queue.</summary>
internal sealed class InProcessConnection : FramedConnection
{
    private readonly InProcessNetwork _network;
    private readonly Channel<(byte[] Data, long DeliverAt)> _inbound = Channel.CreateUnbounded<(byte[], long)>(new UnboundedChannelOptions { SingleReader = true });

    public InProcessConnection(InProcessNetwork network, IPEndPoint local, IPEndPoint remote, ConnectionHandler handler, uint maxFrameSize)
        : base(handler, remote, maxFrameSize)
    {
        _network = network;
        LocalEndPoint = local;
    }

    // When it was opened: what a long cut held on it arrives late (InProcessNetwork.Restore(TimeSpan)).
    private readonly long _openedAt = Stopwatch.GetTimestamp();

    public IPEndPoint LocalEndPoint { get; }

    public InProcessConnection? Peer { get; set; }

    public void Start()
    {
        AnnounceOpened();
        _ = ReceiveLoopAsync();
    }

    protected override ValueTask WriteAsync(ReadOnlyMemory<byte> batch)
    {
        InProcessConnection? peer = Peer;
        if (peer is { IsOpen: false } && _network.ShouldDeliver((IPEndPoint)RemoteEndPoint, LocalEndPoint)
            && !_network.IsCut(((IPEndPoint)RemoteEndPoint).Address, LocalEndPoint.Address, _openedAt) && !_network.IsCut(LocalEndPoint.Address, ((IPEndPoint)RemoteEndPoint).Address, _openedAt))
        {
            // Data sent to a connection the other side has closed is answered with a reset, as TCP does;
            // the reset travels back, so a link cut that way holds it back too, and data that cannot
            // arrive (cut this way) draws none.
            Abort(new ConnectionClosedException("the connection was reset by the peer"));
            return ValueTask.CompletedTask;
        }

        if (peer is not null && _network.ShouldDeliver(LocalEndPoint, (IPEndPoint)RemoteEndPoint))
        {
            long deliverAt = Stopwatch.GetTimestamp() + (long)(_network.Delay.TotalSeconds * Stopwatch.Frequency);
            peer._inbound.Writer.TryWrite((batch.ToArray(), deliverAt));
        }

        return ValueTask.CompletedTask;
    }

    // A close is a FIN: the peer still gets what was sent, then end of stream, unless a partition eats the
    // FIN as it eats everything else. A crash resets both ends at once instead (InProcessNetwork.Crash
    // aborts them), dropping what was in flight, as an RST does.
    protected override void CloseTransport()
    {
        _inbound.Writer.TryComplete();
        _network.Forget(this);
        if (_network.ShouldDeliver(LocalEndPoint, (IPEndPoint)RemoteEndPoint))
        {
            Peer?._inbound.Writer.TryComplete();
        }
    }

    private async Task ReceiveLoopAsync()
    {
        await foreach ((byte[] data, long deliverAt) in _inbound.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            TimeSpan wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deliverAt);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait).ConfigureAwait(false);
            }

            await _network.WhileHeld(((IPEndPoint)RemoteEndPoint).Address, LocalEndPoint.Address, _openedAt).ConfigureAwait(false);
            int copied = 0;
            while (copied < data.Length && IsOpen)
            {
                Memory<byte> room = Receive.WritableMemory();
                int n = Math.Min(room.Length, data.Length - copied);
                data.AsMemory(copied, n).CopyTo(room);
                Receive.Advance(n);
                copied += n;
                DeliverReceived();
                await WhileHeldAsync().ConfigureAwait(false);
            }

            if (!IsOpen)
            {
                return;
            }
        }

        await _network.WhileHeld(((IPEndPoint)RemoteEndPoint).Address, LocalEndPoint.Address, _openedAt).ConfigureAwait(false);
        Abort(null);
    }
}
