using System.Text;
using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.Adapter.Tests;

/// <summary>
/// Update by remote pointer end to end: the client's writes carry the pointers it caches, the primary applies
/// them at the slot named, and after a failover the pointers of the rewritten table work the same way on the
/// promoted node.
/// </summary>
public class UpdateByPointerTests
{
    [Fact]
    public async Task Overwrites_UseTheClientsPointers_OnThePrimary_AndOnThePromotedSecondaryAfterTheTableRewrite()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync(rewriteTable: true);
        for (int i = 0; i < 50; i++)
        {
            await client.SetAsync($"k{i}", Encoding.UTF8.GetBytes($"v{i}"));
        }

        for (int i = 0; i < 50; i++)
        {
            await client.SetAsync($"k{i}", Encoding.UTF8.GetBytes($"w{i}"));
        }

        Assert.Equal(50, pair.Primary.Store.ResolvedByPointer);
        Assert.Equal(0, pair.Secondary.Store.ResolvedByPointer);

        pair.Network.Crash(PairFixture.PrimaryAddress);
        await client.SetAsync("after", "x"u8.ToArray());
        Assert.Equal(NodeRole.Primary, pair.Secondary.Role);
        for (int i = 0; i < 50; i++)
        {
            // A read first: it rewrites the table to the promoted node's pointers.
            Assert.Equal(Encoding.UTF8.GetBytes($"w{i}"), await client.GetAsync($"k{i}"));
            await client.SetAsync($"k{i}", Encoding.UTF8.GetBytes($"z{i}"));
            Assert.Equal(Encoding.UTF8.GetBytes($"z{i}"), await client.GetAsync($"k{i}"));
        }

        Assert.Equal(50, pair.Secondary.Store.ResolvedByPointer);
    }
}
