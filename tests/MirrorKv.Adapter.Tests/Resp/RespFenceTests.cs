using System.Net;
using MirrorKv.Protocol;

namespace MirrorKv.Adapter.Tests.Resp;

/// <summary>
/// The RESP port under the lease: a fenced primary serves nothing: a connection it served as primary closes
/// unanswered (as redis Sentinel closes a demoted master's clients, so that they ask their sentinels again), a
/// new one is answered LOADING (which clients retry); a write whose acknowledgement the fence cut off is never
/// answered OK, and a node that rejoined serves RESP again at the same port, as a secondary. On the in-process
/// network, whose freeze is a paused process.
/// </summary>
public class RespFenceTests
{
    private static readonly IPEndPoint RespOfA = new(PairFixture.PrimaryAddress, 6379);
    private static readonly IPEndPoint RespOfB = new(PairFixture.SecondaryAddress, 6379);

    [Fact]
    public async Task FrozenSecondary_FencedPrimaryClosesWhatItServed_AnswersNewConnectionsLoading_ThenServesAgain()
    {
        await using MemberPair pair = await MemberPair.StartAsync(resp: true);
        await using RespTestClient served = RespTestClient.Connect(pair.Network, PairFixture.ClientAddress, RespOfA);
        Assert.Equal("+OK", (await served.CallAsync("SET", "k", "v1")).ToString());

        pair.Network.Freeze(PairFixture.SecondaryAddress);
        await Waits.UntilAsync(() => pair.A.Node.Role == NodeRole.Fenced, "the primary to fence when its secondary fell silent");

        // Commands that touch no data are still answered; the first one that would be refused is not: it did
        // not run, and the connection closes so that the client sends it where the primary is now.
        Assert.Equal("+PONG", (await served.CallAsync("PING")).ToString());
        await served.SendAsync([.. RespTestClient.Encode("GET", "k"), .. RespTestClient.Encode("SET", "k", "v2")]);
        IOException closed = await Assert.ThrowsAsync<IOException>(() => served.ReadAsync());
        Assert.Contains("closed", closed.Message, StringComparison.Ordinal);

        await using RespTestClient fresh = RespTestClient.Connect(pair.Network, PairFixture.ClientAddress, RespOfA);
        Assert.StartsWith("LOADING this node is fenced", (await fresh.CallAsync("GET", "k")).Text, StringComparison.Ordinal);
        Assert.StartsWith("LOADING", (await fresh.CallAsync("SET", "k", "v2")).Text, StringComparison.Ordinal);
        Assert.Equal("slave", (await fresh.CallAsync("ROLE")).Items![0].String);

        pair.Network.Thaw(PairFixture.SecondaryAddress);
        await pair.WaitProtectedAsync(primary: pair.A, "the primary to serve again once the secondary renews its lease");
        Assert.Equal("v1", (await fresh.CallAsync("GET", "k")).String);
        Assert.Equal("+OK", (await fresh.CallAsync("SET", "k", "v3")).ToString());
    }

    [Fact]
    public async Task WriteWaitingForTheSecondary_WhenThePrimaryFences_ClosesTheConnectionInsteadOfOk()
    {
        await using MemberPair pair = await MemberPair.StartAsync(resp: true);
        await using RespTestClient client = RespTestClient.Connect(pair.Network, PairFixture.ClientAddress, RespOfA);
        Assert.Equal("+OK", (await client.CallAsync("SET", "k", "v1")).ToString());

        pair.Network.Freeze(PairFixture.SecondaryAddress);
        await client.SendAsync([.. RespTestClient.Encode("SET", "k", "unconfirmed"), .. RespTestClient.Encode("GET", "k")]);
        await Waits.UntilAsync(() => pair.A.Node.Role == NodeRole.Fenced, "the primary to fence when its secondary fell silent");

        // Neither the write's OK nor the read of the unconfirmed value may reach the client.
        IOException closed = await Assert.ThrowsAsync<IOException>(() => client.ReadAsync());
        Assert.Contains("closed", closed.Message, StringComparison.Ordinal);
        pair.Network.Thaw(PairFixture.SecondaryAddress);
    }

    [Fact]
    public async Task FrozenPrimary_ServesNoQueuedRequest_AndRejoinsServingRespAsASecondary()
    {
        await using MemberPair pair = await MemberPair.StartAsync(resp: true);
        await using RespTestClient toA = RespTestClient.Connect(pair.Network, PairFixture.ClientAddress, RespOfA);
        Assert.Equal("+OK", (await toA.CallAsync("SET", "k", "v1")).ToString());

        pair.Network.Freeze(PairFixture.PrimaryAddress);
        await toA.SendAsync([.. RespTestClient.Encode("GET", "k"), .. RespTestClient.Encode("SET", "k", "stale")]);
        await Waits.UntilAsync(() => pair.B.Node.Role == NodeRole.Primary, "the secondary to promote while the primary is frozen");
        await using RespTestClient toB = RespTestClient.Connect(pair.Network, PairFixture.ClientAddress, RespOfB);
        Assert.Equal("+OK", (await toB.CallAsync("SET", "k", "v2")).ToString());

        pair.Network.Thaw(PairFixture.PrimaryAddress);
        for (int i = 0; i < 2; i++)
        {
            // The thawed primary fences before it serves its queued requests; it may be gone already (rejoining).
            try
            {
                RespReply reply = await toA.ReadAsync();
                Assert.StartsWith("LOADING", reply.Text, StringComparison.Ordinal);
            }
            catch (IOException)
            {
                break;
            }
        }

        await pair.WaitProtectedAsync(primary: pair.B, "the old primary to rejoin as secondary by itself");
        await using RespTestClient again = RespTestClient.Connect(pair.Network, PairFixture.ClientAddress, RespOfA);
        Assert.Equal("v2", (await again.CallAsync("GET", "k")).String);
        Assert.Equal("-READONLY You can't write against a read only replica.", (await again.CallAsync("SET", "k", "v3")).ToString());
        Assert.Equal("v2", (await toB.CallAsync("GET", "k")).String);
    }
}
