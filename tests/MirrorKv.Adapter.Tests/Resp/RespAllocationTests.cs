using System.Net.Sockets;

namespace MirrorKv.Adapter.Tests.Resp;

/// <summary>
/// GET and SET through the RESP port allocate nothing on the node: measured over the whole process while a
/// client that itself allocates nothing (blocking sends and receives of prepared buffers) drives them. Alone:
/// the measure is process-wide, so no other test may run meanwhile.
/// </summary>
[Collection(nameof(RespAllocationTests))]
public class RespAllocationTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task GetAndSet_AllocateNothingPerRequest(bool withSecondary)
    {
        await using RespNodes nodes = await RespNodes.StartAsync(withSecondary);
        using var socket = new Socket(System.Net.Sockets.AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Connect(nodes.Primary.RespEndPoint!);
        const int Pipeline = 16;
        byte[] batch = [.. Enumerable.Range(0, Pipeline).SelectMany(i => i % 2 == 0 ? RespTestClient.Encode("SET", $"key:{i:D3}", new string('v', 100)) : RespTestClient.Encode("GET", $"key:{i - 1:D3}"))];
        int replyBytes = (Pipeline / 2 * 5) + (Pipeline / 2 * (6 + 100 + 2));
        byte[] replies = new byte[replyBytes];

        void RoundTrips(int count)
        {
            for (int n = 0; n < count; n++)
            {
                socket.Send(batch);
                int received = 0;
                while (received < replyBytes)
                {
                    received += socket.Receive(replies, received, replyBytes - received, SocketFlags.None);
                }
            }
        }

        RoundTrips(2_000);
        Assert.Equal("+OK\r\n$100\r\n"u8.ToArray(), replies[..11]);
        long before = GC.GetTotalAllocatedBytes(precise: true);
        const int Measured = 5_000;
        RoundTrips(Measured);
        long perRequest = (GC.GetTotalAllocatedBytes(precise: true) - before) / (Measured * Pipeline);

        // The node's timers (heartbeats, the guard, the reaper) allocate a little now and then, whatever the load.
        Assert.True(perRequest < 4, $"{perRequest} bytes allocated per request");
    }
}

/// <summary>Runs <see cref="RespAllocationTests"/> with no other test at the same time.</summary>
[CollectionDefinition(nameof(RespAllocationTests), DisableParallelization = true)]
public sealed class RespAllocationTestsCollection;
