using System.Net.Sockets;
using System.Text;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// An operator's burst of large values into a fresh pair, as real processes: 8 pipelined SETs of 16 MB in one
/// write through the RESP port. The store grows by chunks on both nodes meanwhile, and every record is a large one
/// that the heartbeat behind it waits for. Before, the primary's lease ran out in the middle of it: the client saw
/// its connection closed and the secondary took over.
/// </summary>
[Collection(nameof(ProcessTests))]
public class LargeValueBurstProcessTests
{
    [Fact]
    public async Task PipelinedBurstOfLargeValues_IntoAFreshPair_IsAcknowledged_WithoutAFence()
    {
        await using RespPair pair = await RespPair.StartAsync(["--max-memory", "1g"], ["--max-memory", "1g"]);
        const int Values = 8;
        const int ValueBytes = 16_000_000;
        var burst = new MemoryStream();
        for (int i = 0; i < Values; i++)
        {
            string key = $"large:{i}";
            burst.Write(Encoding.ASCII.GetBytes($"*3\r\n$3\r\nSET\r\n${key.Length}\r\n{key}\r\n${ValueBytes}\r\n"));
            burst.Write(Enumerable.Repeat((byte)('a' + i), ValueBytes).ToArray());
            burst.Write("\r\n"u8);
        }

        using var socket = new Socket(pair.PrimaryResp.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(pair.PrimaryResp);
        Task sent = socket.SendAsync(burst.GetBuffer().AsMemory(0, (int)burst.Length)).AsTask();
        string replies = await ReadRepliesAsync(socket, Values, pair);
        await sent;

        Assert.Equal(string.Concat(Enumerable.Repeat("+OK\r\n", Values)), replies);
        Assert.DoesNotContain("-> Fenced", pair.Primary.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Promoting", pair.Secondary.Output, StringComparison.Ordinal);

        // Every value is on the secondary too.
        using var secondary = new Socket(pair.SecondaryResp.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await secondary.ConnectAsync(pair.SecondaryResp);
        await secondary.SendAsync("*1\r\n$6\r\nDBSIZE\r\n"u8.ToArray());
        Assert.Equal($":{Values}\r\n", await ReadRepliesAsync(secondary, 1, pair));
    }

    private static async Task<string> ReadRepliesAsync(Socket socket, int count, RespPair pair)
    {
        var received = new StringBuilder();
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (received.ToString().Split("\r\n").Length - 1 < count)
        {
            int n = await socket.ReceiveAsync(buffer, timeout.Token);
            if (n == 0)
            {
                throw new Xunit.Sdk.XunitException($"the primary closed the connection after {received}\nprimary:\n{pair.Primary.Output}\nsecondary:\n{pair.Secondary.Output}");
            }

            received.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }

        return received.ToString();
    }
}
