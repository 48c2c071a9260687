using MirrorKv.Protocol;

namespace MirrorKv.Transport.Tests;

/// <summary>
/// A handler that cannot serve a frame yet keeps it (DeliverAgain with a hold): the frames after it wait, and it comes
/// again first once the hold is released, so a request that waits for room is not overtaken by its connection's next ones.
/// </summary>
public class DeliverAgainTests
{
    [Theory]
    [MemberData(nameof(TransportTests.Backends), MemberType = typeof(TransportTests))]
    public async Task AFrameKeptByItsHandler_IsDeliveredAgainFirst_OnceReleased_AndNothingOvertakesIt(string backend)
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bool kept = false;
        await using Harness h = await Harness.StartAsync(backend);
        h.Server.OnFrameHook = (connection, frame) =>
        {
            if (frame.Header.RequestId == 5 && !kept)
            {
                kept = true;
                connection.HoldReceivesUntil(release.Task);
                connection.DeliverAgain();
            }
        };

        for (ulong id = 1; id <= 10; id++)
        {
            h.Client.Post(Opcode.Read, WireStatus.Ok, id, BitConverter.GetBytes(id));
        }

        h.Client.Flush();
        await h.Server.WaitForFramesAsync(5);
        await Task.Delay(100);
        Assert.Equal([1UL, 2, 3, 4, 5], h.Server.Frames.Select(f => f.Header.RequestId));

        release.SetResult();
        await h.Server.WaitForFramesAsync(11);
        Assert.Equal([1UL, 2, 3, 4, 5, 5, 6, 7, 8, 9, 10], h.Server.Frames.Select(f => f.Header.RequestId));
        Assert.All(h.Server.Frames, f => Assert.Equal(f.Header.RequestId, BitConverter.ToUInt64(f.Payload)));
    }
}
