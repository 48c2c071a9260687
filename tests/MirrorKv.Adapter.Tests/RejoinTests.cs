using System.Net;
using System.Text;
using MirrorKv.Adapter;
using MirrorKv.Client;
using MirrorKv.Entries;
using MirrorKv.Memory;
using MirrorKv.Protocol;
using MirrorKv.Store;
using MirrorKv.Transport.InProcess;

namespace MirrorKv.Adapter.Tests;

/// <summary>
/// A secondary joining a primary that already holds data: it copies the claimed slabs with one-sided
/// READs while writes go on, follows the stream from the LSN at which it attached, and protects the pair.
/// </summary>
public class RejoinTests
{
    private static readonly IPAddress ThirdAddress = IPAddress.Parse("127.0.0.13");

    [Fact]
    public async Task Join_PrimaryWithData_CopiesWhileWritesContinue_ThenSurvivesPrimaryCrash()
    {
        var network = new InProcessNetwork();
        await using MirrorKvNode primary = await PairFixture.StartPrimaryAsync(network);
        await using MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [primary.EndPoint], Transport = network.CreateTransport(PairFixture.ClientAddress) });
        var latest = new Dictionary<string, byte[]>();
        for (int i = 0; i < 1500; i++)
        {
            latest[$"k{i}"] = Value(i, 0);
            await client.SetAsync($"k{i}", latest[$"k{i}"]);
        }

        Assert.False(primary.IsProtected);
        Task<MirrorKvNode> joining = PairFixture.StartSecondaryAsync(network, PairFixture.SecondaryAddress, primary.EndPoint);
        for (int round = 1; round <= 3; round++)
        {
            for (int i = 0; i < 1500; i += 7)
            {
                latest[$"k{i}"] = Value(i, round);
                await client.SetAsync($"k{i}", latest[$"k{i}"]);
            }

            Assert.True(await client.DeleteAsync($"k{round}"));
            latest.Remove($"k{round}");
        }

        await using MirrorKvNode secondary = await joining;
        await Waits.UntilAsync(() => primary.IsProtected && secondary.IsProtected);
        Assert.Equal(NodeRole.Secondary, secondary.Role);
        Assert.Equal(latest.Count, secondary.Store.GetStats().Entries);
        TranslationSnapshot translation = secondary.Store.Translation!.Current;
        Assert.True(translation.CountDistinctDeltas() >= 2);
        foreach ((string key, byte[] value) in latest)
        {
            Assert.True(primary.Store.TryLookup(Encoding.UTF8.GetBytes(key), out RemotePointer pointer, out _));
            RemotePointer local = translation.Translate(pointer);
            Span<byte> slot = secondary.Store.SpanAt(local);
            Assert.Equal(EntryStatus.Ok, EntryValidator.Validate(slot, Encoding.UTF8.GetBytes(key), 0, out ValidatedEntry entry));
            Assert.Equal(value, entry.ValueOf(slot).ToArray());
        }

        network.Crash(PairFixture.PrimaryAddress);
        await Waits.UntilAsync(() => secondary.Role == NodeRole.Primary);
        await using MirrorKvClient after = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [secondary.EndPoint], Transport = network.CreateTransport(PairFixture.ClientAddress) });
        foreach ((string key, byte[] value) in latest)
        {
            Assert.Equal(value, await after.GetAsync(key));
        }

        Assert.Null(await after.GetAsync("k1"));
    }

    [Fact]
    public async Task Join_WhileAnotherSecondaryIsAttached_KeepsTrying_AndAttachesOnceItIsGone()
    {
        // A node restarted in the middle of a failover may reach the primary before the primary has seen
        // the previous secondary's link close: it is refused (NotPrimary) and must try again, not exit.
        await using PairFixture pair = await PairFixture.StartAsync();
        int answers = 0;
        pair.Network.DropBatches((from, to) => from.Address.Equals(PairFixture.PrimaryAddress) && to.Address.Equals(ThirdAddress) && Interlocked.Increment(ref answers) < 0);
        Task<MirrorKvNode> joining = PairFixture.StartSecondaryAsync(pair.Network, ThirdAddress, pair.Primary.EndPoint);

        // The primary has answered the joining node at least three times: refused, and tried again after the refusal.
        await Waits.UntilAsync(() => Volatile.Read(ref answers) >= 3, "the joining node to be refused and try again");
        Assert.False(joining.IsCompleted, joining.Exception?.ToString());

        // Meanwhile it serves nothing it does not have: it says it is rejoining.
        NodeStatus waiting = await MirrorKvAdmin.GetStatusAsync(new IPEndPoint(ThirdAddress, 7400), pair.Network.CreateTransport(PairFixture.ClientAddress));
        Assert.Equal(NodeRole.Rejoining, waiting.Role);

        pair.Network.Crash(PairFixture.SecondaryAddress);
        await using MirrorKvNode third = await joining.WaitAsync(TimeSpan.FromSeconds(5));
        await Waits.UntilAsync(() => pair.Primary.IsProtected && third.IsProtected);
        Assert.Equal(NodeRole.Secondary, third.Role);
    }

    [Fact]
    public async Task Join_HandshakeClosedUnderIt_TriesAgainOnAFreshConnection()
    {
        static NodeOptions Options(NodeRole role, IPEndPoint? primary) => new()
        {
            Role = role, ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0), PrimaryEndPoint = primary, Store = PairFixture.SmallStore, MaxFrameSize = 1 << 20,
        };

        await using MirrorKvNode primary = await MirrorKvNode.StartAsync(Options(NodeRole.Primary, null), new Transport.Tcp.TcpTransport());
        await using var relay = new CuttingRelay(primary.EndPoint, cutFirst: 2);
        await using MirrorKvNode secondary = await MirrorKvNode.StartAsync(Options(NodeRole.Secondary, relay.EndPoint), new Transport.Tcp.TcpTransport());
        Assert.Equal(2, relay.Cut);
        await Waits.UntilAsync(() => primary.IsProtected && secondary.IsProtected);
        Assert.Equal(NodeRole.Secondary, secondary.Role);
    }

    [Fact]
    public async Task Join_NodeThatNeverBecomesPrimary_GivesUpAfterTheTimeout_WithItsLastAnswer()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        var options = new NodeOptions
        {
            Role = NodeRole.Secondary, ListenEndPoint = new IPEndPoint(ThirdAddress, 7400), PrimaryEndPoint = pair.Secondary.EndPoint,
            Store = PairFixture.SmallStore, MaxFrameSize = 1 << 20, PrimaryConnectTimeout = TimeSpan.FromSeconds(1),
        };
        var clock = System.Diagnostics.Stopwatch.StartNew();
        TimeoutException e = await Assert.ThrowsAsync<TimeoutException>(() => MirrorKvNode.StartAsync(options, pair.Network.CreateTransport(ThirdAddress)));
        Assert.InRange(clock.Elapsed.TotalSeconds, 0.9, 4);
        Assert.Contains("did not accept this secondary within 1 s", e.Message, StringComparison.Ordinal);
        Assert.Contains("NotPrimary", e.Message, StringComparison.Ordinal);
        Assert.Contains("this node is Secondary", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rejoin_AfterFailover_ProtectsAgain_AndSurvivesSecondFailover()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync();
        for (int i = 0; i < 500; i++)
        {
            await client.SetAsync($"k{i}", Value(i, 0));
        }

        pair.Network.Crash(PairFixture.PrimaryAddress);
        await client.SetAsync("k0", Value(0, 1));
        Assert.Equal(NodeRole.Primary, pair.Secondary.Role);
        Assert.False(pair.Secondary.IsProtected);

        await using MirrorKvNode third = await PairFixture.StartSecondaryAsync(pair.Network, ThirdAddress, pair.Secondary.EndPoint);
        await Waits.UntilAsync(() => pair.Secondary.IsProtected && third.IsProtected);
        await client.SetAsync("k1", Value(1, 1));

        pair.Network.Crash(PairFixture.SecondaryAddress);
        await Waits.UntilAsync(() => third.Role == NodeRole.Primary);
        Assert.Equal(3UL, third.Epoch);
        await using MirrorKvClient survivor = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [third.EndPoint], Transport = pair.Network.CreateTransport(PairFixture.ClientAddress) });
        Assert.Equal(Value(0, 1), await survivor.GetAsync("k0"));
        Assert.Equal(Value(1, 1), await survivor.GetAsync("k1"));
        for (int i = 2; i < 500; i++)
        {
            Assert.Equal(Value(i, 0), await survivor.GetAsync($"k{i}"));
        }
    }

    [Fact]
    public async Task Rejoining_Secondary_RefusesClientLookupsUntilCaughtUp_AndPrimaryKeepsTakingWrites()
    {
        var network = new InProcessNetwork();
        await using MirrorKvNode primary = await PairFixture.StartPrimaryAsync(network);
        await using MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [primary.EndPoint], Transport = network.CreateTransport(PairFixture.ClientAddress) });
        await client.SetAsync("k", "v"u8.ToArray());

        // Let the handshake reply through, then lose everything else the primary sends the joining node:
        // its copy never completes.
        int delivered = 0;
        network.DropBatches((from, to) => from.Address.Equals(PairFixture.PrimaryAddress) && to.Address.Equals(PairFixture.SecondaryAddress) && Interlocked.Increment(ref delivered) > 1);
        await using MirrorKvNode secondary = await PairFixture.StartSecondaryAsync(network, PairFixture.SecondaryAddress, primary.EndPoint);

        // Writes acknowledged throughout one and a half promotion timeouts, with the joining node silent.
        await PairFixture.WriteThroughAsync(client, primary.Options.PromoteAfter * 1.5);

        Assert.Equal(NodeRole.Rejoining, secondary.Role);
        Assert.False(primary.IsProtected);
        RawClient raw = await RawClient.ConnectAsync(new PairFixture.Handle(network), secondary.EndPoint);
        (WireStatus status, string message) = await raw.LookupAsync("k");
        Assert.Equal(WireStatus.NotPrimary, status);
        Assert.Contains("rejoining", message, StringComparison.Ordinal);

        // A joining node cannot promote itself, so its silence must not stop the primary taking writes.
        Assert.Equal(NodeRole.Primary, primary.Role);
        await client.SetAsync("k", "w"u8.ToArray()).AsTask().WaitAsync(TimeSpan.FromSeconds(2));
    }

    private static byte[] Value(int key, int generation) => Encoding.UTF8.GetBytes($"value-{key}-{generation}-" + new string('x', 20 + (key % 5 * 300)));
}
