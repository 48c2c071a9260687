using System.Net;
using MirrorKv.Transport;
using MirrorKv.Transport.InProcess;

namespace MirrorKv.Adapter.Tests;

/// <summary>
/// What the primary counts as a secondary that applies nothing (<see cref="AckWaiters.StalledFor"/>): writes waiting
/// with no ack moving them on. A secondary working through a backlog acknowledges some of it every few records, and
/// writes behind that backlog may wait longer than the fence time while the pair is healthy; before, the primary gave
/// up its role to such a secondary in the middle of a burst of large values.
/// </summary>
public class AckWaitersStallTests
{
    [Fact]
    public async Task WritesWaitingBehindABacklog_ThatAcksKeepMoving_AreNotStalled()
    {
        await using Link link = await Link.OpenAsync();
        var waiters = new AckWaiters();
        Assert.Equal(TimeSpan.Zero, waiters.StalledFor);

        // Ten writes; the secondary confirms one every 30 ms.
        for (ulong lsn = 1; lsn <= 10; lsn++)
        {
            Assert.True(waiters.TryWait(lsn, new AckTurn(link.Connection)));
        }

        for (ulong lsn = 1; lsn <= 9; lsn++)
        {
            await Task.Delay(30);
            waiters.Ack(lsn);
        }

        // The last one has waited the whole time, but acks came until just now.
        Assert.True(waiters.OldestWait >= TimeSpan.FromMilliseconds(250), $"oldest wait {waiters.OldestWait}");
        // (Compared with the oldest wait, read just after: a pause of this thread in between grows both alike.)
        TimeSpan stalled = waiters.StalledFor;
        Assert.True(stalled < waiters.OldestWait - TimeSpan.FromMilliseconds(100), $"stalled for {stalled}, the oldest wait {waiters.OldestWait}, though an ack came within 30 ms");

        // No ack for a while: now it is stalled, counted from the last one (a timer may fire a little early).
        await Task.Delay(200);
        Assert.True(waiters.StalledFor >= TimeSpan.FromMilliseconds(150), $"stalled for {waiters.StalledFor}");
        Assert.True(waiters.StalledFor < waiters.OldestWait, "counted from the oldest write's start, not from the last ack");

        waiters.Ack(10);
        Assert.Equal(TimeSpan.Zero, waiters.StalledFor);
    }

    [Fact]
    public async Task AWriteAfterALongQuiet_IsStalledFromItsOwnStart()
    {
        await using Link link = await Link.OpenAsync();
        var waiters = new AckWaiters();
        waiters.Ack(5);
        await Task.Delay(200);

        // The last ack is 200 ms old, but this write has only just started waiting.
        var sinceWrite = System.Diagnostics.Stopwatch.StartNew();
        Assert.True(waiters.TryWait(6, new AckTurn(link.Connection)));
        TimeSpan stalled = waiters.StalledFor;
        Assert.True(stalled <= sinceWrite.Elapsed, $"stalled for {stalled}, though the write has waited {sinceWrite.Elapsed}");
    }

    // A connection for the released replies to be flushed on.
    private sealed class Link : IAsyncDisposable
    {
        private readonly IListener _listener;

        private Link(IListener listener, IConnection connection)
        {
            _listener = listener;
            Connection = connection;
        }

        public IConnection Connection { get; }

        public static async Task<Link> OpenAsync()
        {
            var network = new InProcessNetwork();
            var at = new IPEndPoint(IPAddress.Parse("127.0.0.41"), 9000);
            var ends = new Ends();
            IListener listener = network.CreateTransport(at.Address).Listen(at, ends);
            IConnection connection = await network.CreateTransport(IPAddress.Parse("127.0.0.42")).ConnectAsync(at, ends, CancellationToken.None);
            return new Link(listener, connection);
        }

        public async ValueTask DisposeAsync()
        {
            Connection.Abort(null);
            await _listener.DisposeAsync();
        }

        // Both ends ignore what they receive.
        private sealed class Ends : IFrameHandler
        {
            public void OnOpened(IConnection connection)
            {
            }

            public void OnFrame(IConnection connection, uint immediate, ulong requestId, ReadOnlySpan<byte> payload)
            {
            }

            public void OnBatchEnd(IConnection connection)
            {
            }

            public void OnClosed(IConnection connection, Exception? error)
            {
            }
        }
    }
}
