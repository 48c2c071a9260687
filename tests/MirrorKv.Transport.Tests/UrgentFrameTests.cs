using MirrorKv.Protocol;

namespace MirrorKv.Transport.Tests;

/// <summary>
/// Urgent frames (a primary's lease heartbeat) overtake the frames queued ahead of them: before a queue that has not
/// started to leave, and between the slices of one that is on its way, while every other frame keeps its order.
/// </summary>
public class UrgentFrameTests
{
    private const ulong UrgentId = 1_000_000;

    [Theory]
    [MemberData(nameof(TransportTests.Backends), MemberType = typeof(TransportTests))]
    public async Task UrgentFrame_PostedAfterAQueue_LeavesFirst(string backend)
    {
        await using Harness h = await Harness.StartAsync(backend);
        for (ulong id = 1; id <= 100; id++)
        {
            h.Client.Post(Opcode.Read, WireStatus.Ok, id, new byte[100]);
        }

        h.Client.PostUrgent(Opcode.Heartbeat, WireStatus.Ok, UrgentId, new byte[32]);
        h.Client.Flush();

        await h.Server.WaitForFramesAsync(101);
        ulong[] order = h.Server.Frames.Select(f => f.Header.RequestId).ToArray();
        Assert.Equal(UrgentId, order[0]);
        Assert.Equal(Enumerable.Range(1, 100).Select(i => (ulong)i), order[1..]);
        Assert.Equal(Opcode.Heartbeat, h.Server.Frames.First().Header.Opcode);
    }

    [Theory]
    [MemberData(nameof(TransportTests.TcpBackends), MemberType = typeof(TransportTests))]
    public async Task UrgentFrame_PostedWhileABacklogIsOnItsWay_OvertakesMostOfIt(string backend)
    {
        await using Harness h = await Harness.StartAsync(backend);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        h.Client.MaxFrameSize = 2 << 20;
        h.Client.HoldReceivesUntil(release.Task);
        IConnection server = h.ServerConnection!;

        // 48 MiB in 384 frames of 128 KiB, flushed as one queue: the socket buffers take a few MiB of it and the
        // write waits for the client, which reads nothing yet.
        const int Frames = 384;
        byte[] payload = new byte[128 * 1024];
        for (ulong id = 1; id <= Frames; id++)
        {
            server.Post(Opcode.Read, WireStatus.Ok, id, payload);
        }

        server.Flush();
        await Waits.UntilAsync(() => server.WriteBlockedFor > TimeSpan.FromMilliseconds(50), "the server's write to wait for the client", context: () => $"{server.QueuedBytes} bytes queued");
        server.PostUrgent(Opcode.Heartbeat, WireStatus.Ok, UrgentId, new byte[32]);
        server.Flush();
        release.SetResult();

        await h.ClientHandler.WaitForFramesAsync(Frames + 1);
        ulong[] order = h.ClientHandler.Frames.Select(f => f.Header.RequestId).ToArray();
        int at = Array.IndexOf(order, UrgentId);

        // Ahead of it: what the socket buffers held, and one slice. Before, the whole queue was (index 384).
        Assert.InRange(at, 0, Frames / 2);
        Assert.Equal(Enumerable.Range(1, Frames).Select(i => (ulong)i), order.Where(id => id != UrgentId));
    }

    [Theory]
    [MemberData(nameof(TransportTests.Backends), MemberType = typeof(TransportTests))]
    public async Task UrgentAndQueuedFrames_PostedFromManyThreadsAtOnce_AllArrive_WithoutAnotherFlush(string backend)
    {
        // Urgent frames start the send loop without the send lock: a post that found the loop running while the loop
        // found nothing more to send would leave its frame behind until some later flush. Nothing flushes after these.
        await using Harness h = await Harness.StartAsync(backend);
        const int PerThread = 2_000;
        var start = new Barrier(4);
        Task Poster(ulong first, bool urgent) => Task.Run(() =>
        {
            start.SignalAndWait();
            for (ulong id = first; id < first + PerThread; id++)
            {
                if (urgent)
                {
                    h.Client.PostUrgent(Opcode.Heartbeat, WireStatus.Ok, id, new byte[32]);
                }
                else
                {
                    h.Client.Post(Opcode.Read, WireStatus.Ok, id, new byte[id % 7 == 0 ? 100_000 : 64]);
                    h.Client.Flush();
                }
            }
        });

        await Task.WhenAll(Poster(0, urgent: false), Poster(100_000, urgent: false), Poster(200_000, urgent: true), Poster(300_000, urgent: true));
        await h.Server.WaitForFramesAsync(4 * PerThread);
        ulong[] ids = h.Server.Frames.Select(f => f.Header.RequestId).ToArray();
        Assert.Equal(4 * PerThread, ids.Distinct().Count());

        // Each thread's frames in the order it posted them, urgent or not.
        foreach (ulong first in new ulong[] { 0, 100_000, 200_000, 300_000 })
        {
            ulong[] mine = ids.Where(id => id >= first && id < first + PerThread).ToArray();
            Assert.Equal(Enumerable.Range(0, PerThread).Select(i => first + (ulong)i), mine);
        }
    }
}
