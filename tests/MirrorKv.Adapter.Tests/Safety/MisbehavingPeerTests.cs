using MirrorKv.Memory;
using MirrorKv.Protocol;

namespace MirrorKv.Adapter.Tests.Safety;

/// <summary>
/// Callers that hold resources without making progress: they are closed with a reason, the node's memory
/// stays bounded meanwhile, and the well-behaved client keeps being served.
/// </summary>
public class MisbehavingPeerTests
{
    [Fact]
    public async Task NoHello_IsClosedAfterTheHandshakeTimeout()
    {
        await using TcpPair node = await TcpPair.StartPrimaryAsync();
        await using RawSocket raw = await RawSocket.ConnectAsync(node.EndPoint);
        var error = await raw.ReceiveUntilClosedAsync();
        Assert.Equal(WireStatus.Timeout, error?.Status);
        Assert.Contains("no HELLO within", error?.Message, StringComparison.Ordinal);
        await node.AssertServesAsync("after-idle");
    }

    [Fact]
    public async Task SlowSender_OneByteAtATime_IsClosedAfterTheFrameTimeout()
    {
        await using TcpPair node = await TcpPair.StartPrimaryAsync();
        await using RawSocket raw = await RawSocket.ConnectAsync(node.EndPoint);
        RegionInfo region = await raw.GreetAsync();
        byte[] frame = RawSocket.ReadFrame(1, new RemotePointer(region.RKey, region.BaseAddress, 64));
        Task<(WireStatus Status, string Message)?> closed = raw.ReceiveUntilClosedAsync();
        for (int i = 0; i < frame.Length - 1 && !closed.IsCompleted; i++)
        {
            await raw.SendAsync(frame[i..(i + 1)]);
            await node.AssertServesAsync($"slow-{i}");
            await Task.Delay(60);
        }

        var error = await closed;
        Assert.Equal(WireStatus.Timeout, error?.Status);
        Assert.Contains("frame stayed incomplete", error?.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SlowReader_MemoryStaysBounded_ThenItIsDropped()
    {
        await using TcpPair node = await TcpPair.StartPrimaryAsync();
        await using RawSocket raw = await RawSocket.ConnectAsync(node.EndPoint, receiveBuffer: 4096);
        RegionInfo region = await raw.GreetAsync();

        // 64 MiB of replies asked for in one go (1024 READs of 64 KiB), none of them read.
        byte[] frame = RawSocket.ReadFrame(1, new RemotePointer(region.RKey, region.BaseAddress, 64 * 1024));
        byte[] many = [.. Enumerable.Repeat(frame, 1024).SelectMany(f => f)];
        Task send = raw.SendAsync(many);
        long peak = 0;
        for (int i = 0; i < 20; i++)
        {
            peak = Math.Max(peak, node.Primary.QueuedBytes);
            await node.AssertServesAsync($"while-unread-{i}");
            await Task.Delay(10);
        }

        // Bounded by the limit plus one reply frame, far below the 64 MiB asked for.
        int limit = TcpPair.Options.SendQueueLimit;
        Assert.InRange(peak, 1, limit + (64 * 1024) + 64);
        await Waits.UntilAsync(() => node.Primary.ConnectionCount == 1);
        await node.AssertServesAsync("after-drop");
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await send;
            while (await raw.ReceiveAsync(2) is not null)
            {
            }

            throw new InvalidOperationException("closed");
        });
    }

    [Fact]
    public async Task ConnectionFlood_PastTheLimitIsRefused_AndTheClientKeepsWorking()
    {
        // A handshake timeout longer than the flood takes: the accepted connections keep their places (with
        // the tests' short one they could time out while 400 connects are still under way on a busy machine,
        // and later connections would be accepted in their stead instead of refused).
        NodeOptions options = TcpPair.Options with { MaxConnections = 50, HandshakeTimeout = TimeSpan.FromSeconds(30) };
        await using TcpPair node = await TcpPair.StartPrimaryAsync(options);
        var flood = new List<RawSocket>();
        try
        {
            for (int i = 0; i < 400; i++)
            {
                flood.Add(await RawSocket.ConnectAsync(node.EndPoint));
            }

            await node.AssertServesAsync("during-flood");
            Assert.Equal(options.MaxConnections, node.Primary.ConnectionCount);
            int refused = 0;
            foreach (RawSocket raw in flood.Skip(300))
            {
                var error = await raw.ReceiveUntilClosedAsync(5);
                refused += error?.Status == WireStatus.TooManyConnections ? 1 : 0;
            }

            Assert.True(refused == 100, $"only {refused} of the last 100 were refused with TooManyConnections");
        }
        finally
        {
            foreach (RawSocket raw in flood)
            {
                await raw.DisposeAsync();
            }
        }

        await Waits.UntilAsync(() => node.Primary.ConnectionCount == 1);
        await using RawSocket late = await RawSocket.ConnectAsync(node.EndPoint);
        await late.GreetAsync();
    }
}
