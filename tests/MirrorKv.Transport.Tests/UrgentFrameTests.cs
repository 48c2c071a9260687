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
}
