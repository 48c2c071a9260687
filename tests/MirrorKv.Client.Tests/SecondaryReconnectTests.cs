using System.Text;
using MirrorKv.Adapter;
using MirrorKv.Client;

namespace MirrorKv.Client.Tests;

/// <summary>
/// A secondary restarted at the endpoint the client already knows: the write replies name it again, and the
/// client connects to it again, so that the next failover's reads go to it at once instead of waiting for
/// the promotion.
/// </summary>
public class SecondaryReconnectTests
{
    [Fact]
    public async Task SecondaryRestartedAtTheSameEndPoint_IsConnectedAgainFromTheWriteReplies()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync();
        await client.SetAsync("k", "v1"u8.ToArray());
        await client.GetSecondaryStatusAsync();

        pair.Network.Crash(PairFixture.SecondaryAddress);
        await Waits.UntilAsync(() => !pair.Primary.DescribeStatus().Protected);
        await client.SetAsync("k", "v2"u8.ToArray());
        await Assert.ThrowsAsync<MirrorKvException>(() => client.GetSecondaryStatusAsync());

        await using MirrorKvNode restarted = await PairFixture.StartSecondaryAsync(pair.Network, PairFixture.SecondaryAddress, pair.Primary.EndPoint);
        await Waits.UntilAsync(() => pair.Primary.DescribeStatus().Protected);
        for (int i = 0; i < 200 && !await SecondaryAnswersAsync(client); i++)
        {
            await client.SetAsync($"w{i}", Encoding.UTF8.GetBytes($"{i}"));
            await Task.Delay(10);
        }

        Assert.True(await SecondaryAnswersAsync(client), "the client never connected to the restarted secondary");
    }

    private static async Task<bool> SecondaryAnswersAsync(MirrorKvClient client)
    {
        try
        {
            await client.GetSecondaryStatusAsync();
            return true;
        }
        catch (MirrorKvException)
        {
            return false;
        }
    }
}
