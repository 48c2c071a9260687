using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.Adapter.Tests;

/// <summary>STATUS, as <c>mirrorkv status</c> shows it: roles, epochs, LSNs, lag and protection through a failover.</summary>
public class StatusTests
{
    [Fact]
    public async Task Status_ReportsRolesLsnsAndProtection_BeforeAndAfterFailover()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync();
        for (int i = 0; i < 50; i++)
        {
            await client.SetAsync($"k{i}", "v"u8.ToArray());
        }

        NodeStatus primary = await MirrorKvAdmin.GetStatusAsync(pair.Primary.EndPoint, pair.Network.CreateTransport(PairFixture.ClientAddress));
        NodeStatus secondary = await MirrorKvAdmin.GetStatusAsync(pair.Secondary.EndPoint, pair.Network.CreateTransport(PairFixture.ClientAddress));
        Assert.Equal((NodeRole.Primary, 1UL, true, 50UL, 50UL, 0UL), (primary.Role, primary.Epoch, primary.Protected, primary.Lsn, primary.Entries, primary.Lag));
        Assert.Equal((NodeRole.Secondary, 1UL, true, 50UL, 50UL), (secondary.Role, secondary.Epoch, secondary.Protected, secondary.Lsn, secondary.Entries));
        Assert.Equal(pair.Secondary.EndPoint, primary.Peer);

        pair.Network.Crash(PairFixture.PrimaryAddress);
        await Waits.UntilAsync(() => pair.Secondary.Role == NodeRole.Primary);
        NodeStatus promoted = await MirrorKvAdmin.GetStatusAsync(pair.Secondary.EndPoint, pair.Network.CreateTransport(PairFixture.ClientAddress));
        Assert.Equal((NodeRole.Primary, 2UL, false, 50UL), (promoted.Role, promoted.Epoch, promoted.Protected, promoted.Entries));
        MirrorKvException e = await Assert.ThrowsAsync<MirrorKvException>(() => MirrorKvAdmin.GetStatusAsync(pair.Primary.EndPoint, pair.Network.CreateTransport(PairFixture.ClientAddress)));
        Assert.Equal(MirrorKvError.Unavailable, e.Error);
    }
}
