using MirrorKv.Protocol;

namespace MirrorKv.Transport.Tests;

/// <summary>
/// A send queue past its limit on a real socket: the connection says it is congested while the peer does not
/// read, and WhenDrained completes once the peer reads again, with every frame delivered in order.
/// </summary>
public class BackpressureTests
{
    private const int Limit = 1 << 20;

    [Theory]
    [MemberData(nameof(TransportTests.TcpBackends), MemberType = typeof(TransportTests))]
    public async Task SendQueueOverItsLimit_IsCongestedUntilThePeerReads_ThenDrains(string backend)
    {
        await using Harness h = await Harness.StartAsync(backend);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        h.Client.MaxFrameSize = 2 << 20;
        h.Client.HoldReceivesUntil(release.Task);
        IConnection server = h.ServerConnection!;
        server.SendQueueLimit = Limit;

        // 48 MiB: more than both socket buffers hold, so most of it must wait in the send queue.
        byte[] payload = new byte[1 << 20];
        for (ulong id = 1; id <= 48; id++)
        {
            BitConverter.TryWriteBytes(payload, id);
            server.Post(Opcode.Read, WireStatus.Ok, id, payload);
        }

        server.Flush();
        await Waits.UntilAsync(() => server.IsCongested, "the server's send queue to pass its limit while the client reads nothing", context: () => $"{server.QueuedBytes} bytes queued");
        Task drained = server.WhenDrained();
        Assert.False(drained.IsCompleted, "drained while the peer read nothing");
        Assert.True(server.QueuedBytes > Limit, $"{server.QueuedBytes} bytes queued");

        release.SetResult();
        await Waits.ForAsync(drained, "the send queue to drain once the client reads");
        await h.ClientHandler.WaitForFramesAsync(48);
        Assert.Equal(Enumerable.Range(1, 48).Select(i => (ulong)i), h.ClientHandler.Frames.Select(f => f.Header.RequestId));
        Assert.All(h.ClientHandler.Frames, f => Assert.Equal(f.Header.RequestId, BitConverter.ToUInt64(f.Payload)));
    }
}
