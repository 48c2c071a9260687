using System.Collections.Concurrent;
using System.Net;
using MirrorKv.Adapter;
using MirrorKv.Client;
using MirrorKv.Entries;
using MirrorKv.Linearizability;
using MirrorKv.Memory;
using MirrorKv.Protocol;
using MirrorKv.Store;
using MirrorKv.Transport.InProcess;
using Microsoft.Extensions.Logging;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// The secondary's takeover through etcd against the lease it grants by its echo, with the interleaving held
/// still: two in-process pair members (the in-process network freezes a node as SIGSTOP does, timers included)
/// and a real etcd behind a gate that keeps the secondary's winning claim in flight. Here, not in the adapter's
/// unit tests, because only the integration tests run an etcd.
/// </summary>
[Collection(nameof(ProcessTests))]
public class CoordinatorTakeoverTests
{
    private static readonly IPAddress AddressA = IPAddress.Parse("127.0.0.41");
    private static readonly IPAddress AddressB = IPAddress.Parse("127.0.0.42");
    private static readonly IPAddress ClientAddress = IPAddress.Parse("127.0.0.43");

    [Fact]
    public async Task PrimaryResumingWhileTheSecondaryClaimsTheKey_IsNotRenewedByTheSecondary_AndRejoins()
    {
        await using EtcdProcess etcd = await EtcdProcess.StartAsync();
        await using var gate = new EtcdGate(etcd.Url);
        var network = new InProcessNetwork();
        var lines = new ConcurrentQueue<string>();

        // A request timeout well above the time the test holds a claim, so that the claim is not given up meanwhile.
        var coordinator = new CoordinatorOptions { EndPoints = [gate.Url], PairName = "takeover", RequestTimeout = TimeSpan.FromMilliseconds(1500) };
        await using PairMember a = await PairMember.StartAsync(Options(network, AddressA, NodeRole.Primary, null, coordinator), network.CreateTransport(AddressA), new LineLoggers(lines, "A"));
        await using PairMember b = await PairMember.StartAsync(Options(network, AddressB, NodeRole.Secondary, a.Node.EndPoint, coordinator), network.CreateTransport(AddressB), new LineLoggers(lines, "B"));
        await UntilAsync(lines, () => a.Node is { Role: NodeRole.Primary, IsProtected: true } && b.Node is { Role: NodeRole.Secondary, IsProtected: true }, "the pair to form");

        // A stands still past its etcd lease; B, hearing nothing for 1 s, claims the leader key once etcd let
        // A's lease expire, and that claim (a winning one: no leader key any more) waits at the gate.
        gate.Hold();
        network.Freeze(AddressA);
        await UntilAsync(lines, () => gate.Held >= 1, "the secondary to claim the leader key once the frozen primary's etcd lease expired");

        // A resumes: its lease ran out, it fences and heartbeats B, and finds its own etcd lease gone, so it
        // claims the key back: that claim waits behind B's. B must not renew A's lease meanwhile: etcd may
        // make B primary any moment, and A would then serve on a lease B granted.
        long thawed = DateTime.UtcNow.Ticks;
        network.Thaw(AddressA);
        bool AServedAgain() => lines.Any(line => line.Contains(" A ", StringComparison.Ordinal) && line.Contains("-> Primary (epoch 1)", StringComparison.Ordinal) && Stamp(line) > thawed);
        await UntilAsync(lines, () => gate.Held >= 2, "the resumed primary to claim its key back");
        await UntilAsync(lines, () => AServedAgain() || lines.Any(line => line.Contains(" B ", StringComparison.Ordinal) && line.Contains("its lease is not renewed", StringComparison.Ordinal)), "B to hear the resumed primary during its takeover");
        Assert.False(AServedAgain(), $"A served again at epoch 1 on B's echo while B's claim was in flight:\n{string.Join("\n", lines.TakeLast(40))}");
        Assert.Equal(NodeRole.Fenced, a.Node.Role);

        // B's claim goes first and wins; A learns it and rejoins B.
        await gate.ReleaseAsync();
        await UntilAsync(lines, () => b.Node is { Role: NodeRole.Primary, Epoch: 2, IsProtected: true } && a.Node is { Role: NodeRole.Secondary, IsProtected: true }, "B to lead under epoch 2 with A rejoined as its secondary");
        Assert.False(AServedAgain(), string.Join("\n", lines.TakeLast(40)));
    }

    [Fact]
    public async Task DroppedSecondaryInTheMiddleOfATakeover_NeverTakesTheKey_EvenWhenItComesFree()
    {
        await using EtcdProcess etcd = await EtcdProcess.StartAsync();
        await using var gateA = new EtcdGate(etcd.Url);
        await using var gateB = new EtcdGate(etcd.Url);
        var network = new InProcessNetwork();
        var lines = new ConcurrentQueue<string>();
        var coordinator = new CoordinatorOptions { EndPoints = [gateA.Url], PairName = "dropped", RequestTimeout = TimeSpan.FromMilliseconds(1500) };
        await using PairMember a = await PairMember.StartAsync(Options(network, AddressA, NodeRole.Primary, null, coordinator), network.CreateTransport(AddressA), new LineLoggers(lines, "A"));
        await using PairMember b = await PairMember.StartAsync(Options(network, AddressB, NodeRole.Secondary, a.Node.EndPoint, coordinator with { EndPoints = [gateB.Url] }), network.CreateTransport(AddressB), new LineLoggers(lines, "B"));
        await UntilAsync(lines, () => a.Node is { Role: NodeRole.Primary, IsProtected: true } && b.Node is { Role: NodeRole.Secondary, IsProtected: true }, "the pair to form");
        await using var client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [a.Node.EndPoint], Transport = network.CreateTransport(ClientAddress), RequestTimeout = TimeSpan.FromSeconds(5) });
        await client.SetAsync("before", "0"u8.ToArray());

        // A's frames stop reaching B: B hears nothing and, after 1 s, starts a takeover (its claims fail: A's
        // etcd lease holds the key). A gets no acks for its writes and, its etcd lease valid, drops B and
        // acknowledges alone: those writes are on A only. The dropped flag and the close wait in the cut.
        network.Cut(AddressA, AddressB);
        await client.SetAsync("alone-0", "1"u8.ToArray());
        await UntilAsync(lines, () => gateB.RangeReads("/leader") >= 1, "B to start its takeover (a read of the leader key)");
        for (int i = 1; i < 20; i++)
        {
            await client.SetAsync($"alone-{i}", "1"u8.ToArray());
        }

        // B learns it was dropped (the cut heals one way; B's answers stay cut, so it cannot rejoin A yet).
        network.Cut(AddressB, AddressA);
        network.Restore(AddressA, AddressB);
        await UntilAsync(lines, () => lines.Any(line => line.Contains(" B ", StringComparison.Ordinal) && line.Contains("the primary dropped it", StringComparison.Ordinal)), "B to read the dropped flag");

        // Now the key comes free (A's etcd lease revoked, as etcd does when it expires), and A cannot take it
        // back yet. B must not take it: its copy lacks alone-0..19.
        gateA.Hold();
        await RevokeLeaderAsync(etcd.Url, "dropped");
        await UntilAsync(lines, () => gateB.Requests("/v3/kv/txn") > 0 || lines.Any(line => line.Contains(" B ", StringComparison.Ordinal) && line.Contains("no takeover: the primary dropped this node", StringComparison.Ordinal)), "B to claim the free key, or to give its takeover up");
        Assert.True(gateB.Requests("/v3/kv/txn") == 0 && b.Node.Role != NodeRole.Primary, $"the dropped B claimed the leader key ({b.Node.Role}, epoch {b.Node.Epoch}):\n{string.Join("\n", lines.TakeLast(40))}");

        // Once the link and etcd are back, A takes its key back and B rejoins it: every write is there.
        network.Restore();
        await gateA.ReleaseAsync();
        await UntilAsync(lines, () => a.Node is { Role: NodeRole.Primary, IsProtected: true } && b.Node is { Role: NodeRole.Secondary, IsProtected: true }, "A to lead again with B rejoined", 20);
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal("1", System.Text.Encoding.UTF8.GetString((await client.GetAsync($"alone-{i}"))!));
        }
    }

    [Fact]
    public async Task SecondaryThatNeverHeardItWasDropped_CannotTakeOver_WhenThePrimaryLosesItsKey()
    {
        await using EtcdProcess etcd = await EtcdProcess.StartAsync();
        await using var gateA = new EtcdGate(etcd.Url);
        var network = new InProcessNetwork();
        var lines = new ConcurrentQueue<string>();
        var coordinator = new CoordinatorOptions { EndPoints = [gateA.Url], PairName = "unheard", RequestTimeout = TimeSpan.FromMilliseconds(1500) };
        await using PairMember a = await PairMember.StartAsync(Options(network, AddressA, NodeRole.Primary, null, coordinator), network.CreateTransport(AddressA), new LineLoggers(lines, "A"));
        await using PairMember b = await PairMember.StartAsync(Options(network, AddressB, NodeRole.Secondary, a.Node.EndPoint, coordinator with { EndPoints = [etcd.Url] }), network.CreateTransport(AddressB), new LineLoggers(lines, "B"));
        await UntilAsync(lines, () => a.Node is { Role: NodeRole.Primary, IsProtected: true } && b.Node is { Role: NodeRole.Secondary, IsProtected: true }, "the pair to form");
        Assert.Contains(lines, line => line.Contains(" A ", StringComparison.Ordinal) && line.Contains($"in sync: {a.Node.EndPoint} and {b.Node.EndPoint}", StringComparison.Ordinal));
        await using var client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [a.Node.EndPoint], Transport = network.CreateTransport(ClientAddress), RequestTimeout = TimeSpan.FromSeconds(5) });
        await client.SetAsync("before", "0"u8.ToArray());

        // The link is cut both ways: A gets no acks and, its etcd lease valid, drops B and acknowledges alone;
        // the dropped flag never reaches B while the cut lasts.
        network.Cut(AddressA, AddressB);
        network.Cut(AddressB, AddressA);
        for (int i = 0; i < 20; i++)
        {
            await client.SetAsync($"alone-{i}", "1"u8.ToArray());
        }

        Assert.Contains(lines, line => line.Contains(" A ", StringComparison.Ordinal) && line.Contains($"in sync: {a.Node.EndPoint} alone", StringComparison.Ordinal));

        // Then A loses its key (its etcd lease expires: a pause, or etcd dropping it) and cannot take it back
        // yet. B, which never heard of the drop, must not win it: its copy lacks alone-0..19.
        gateA.Hold();
        await RevokeLeaderAsync(etcd.Url, "unheard");
        await UntilAsync(lines, () => b.Node.Role == NodeRole.Primary || lines.Any(line => line.Contains(" B ", StringComparison.Ordinal) && line.Contains("no takeover: etcd records", StringComparison.Ordinal)), "B to try to take the free key");
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.True(b.Node.Role != NodeRole.Primary, $"B took over without the writes A acknowledged alone (epoch {b.Node.Epoch}):\n{string.Join("\n", lines.TakeLast(40))}");

        // Once the link and etcd are back, A takes its key back and B rejoins it: every write is there.
        network.Restore();
        await gateA.ReleaseAsync();
        await UntilAsync(lines, () => a.Node is { Role: NodeRole.Primary, IsProtected: true } && b.Node is { Role: NodeRole.Secondary, IsProtected: true }, "A to lead again with B rejoined", 20);
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal("1", System.Text.Encoding.UTF8.GetString((await client.GetAsync($"alone-{i}"))!));
        }
    }

    [Fact]
    public async Task SecondaryCutOffWhileThePrimaryGoesOnAlone_RefusesFailoverReads_InsteadOfAnOlderValue()
    {
        await using EtcdProcess etcd = await EtcdProcess.StartAsync();
        var network = new InProcessNetwork();
        var lines = new ConcurrentQueue<string>();
        var coordinator = new CoordinatorOptions { EndPoints = [etcd.Url], PairName = "cut-reads" };
        await using PairMember a = await PairMember.StartAsync(Options(network, AddressA, NodeRole.Primary, null, coordinator), network.CreateTransport(AddressA), new LineLoggers(lines, "A"));
        await using PairMember b = await PairMember.StartAsync(Options(network, AddressB, NodeRole.Secondary, a.Node.EndPoint, coordinator), network.CreateTransport(AddressB), new LineLoggers(lines, "B"));
        await UntilAsync(lines, () => a.Node is { Role: NodeRole.Primary, IsProtected: true } && b.Node is { Role: NodeRole.Secondary, IsProtected: true }, "the pair to form");
        await using var client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [a.Node.EndPoint], Transport = network.CreateTransport(ClientAddress), RequestTimeout = TimeSpan.FromSeconds(5) });
        var history = new HistoryRecorder();
        long write = history.InvokeWrite("k", 1);
        await client.SetAsync("k", "1"u8.ToArray());
        history.Complete(write, Outcome.Ok);
        Assert.True(a.Node.Store.TryLookup("k"u8, out RemotePointer pointer, out _));

        // A client that reaches the secondary only (as one cut off from the primary would) reads k there.
        NodeChannel atB = await NodeChannel.ConnectAsync(network.CreateTransport(ClientAddress), b.Node.EndPoint, new NodeChannelOptions(null, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2)), _ => { }, CancellationToken.None);
        await UntilFailoverReadAsync(lines, atB, pointer, 1, "the secondary to serve k=1 once etcd names it in sync");

        // The link is cut both ways: A drops B, clears B from etcd's in-sync key and acknowledges k=2 alone. B,
        // alive and reachable, must not answer k=1 any more.
        network.Cut(AddressA, AddressB);
        network.Cut(AddressB, AddressA);
        write = history.InvokeWrite("k", 2);
        await client.SetAsync("k", "2"u8.ToArray());
        history.Complete(write, Outcome.Ok);
        Assert.Contains(lines, line => line.Contains(" A ", StringComparison.Ordinal) && line.Contains($"in sync: {a.Node.EndPoint} alone", StringComparison.Ordinal));

        long read = history.InvokeRead("k");
        (WireStatus status, long? value) = await FailoverReadAsync(atB, pointer);
        history.Complete(read, status == WireStatus.Ok ? Outcome.Ok : Outcome.Fail, value);
        CheckReport report = LinearizabilityChecker.Check(history.Snapshot());
        Assert.True(report.IsLinearizable, $"FAILOVER_READ at the cut-off secondary: {report.ToText()}");
        Assert.Equal(WireStatus.NotPrimary, status);
        Assert.Equal(WireStatus.NotPrimary, await KeyRequestAsync(atB, Opcode.Lookup, "k"));
        Assert.Equal(WireStatus.NotPrimary, await KeyRequestAsync(atB, Opcode.Get, "k"));

        // Nor may it say the pair is protected (an operator's monitoring read "protected yes" and
        // master_link_status:up from such a secondary, 957 writes behind).
        Assert.False(b.Node.IsProtected);
        Assert.False(b.Node.DescribeStatus().Protected);

        // Once the link is back, B rejoins, etcd names it again, and it serves the value A acknowledged alone.
        network.Restore();
        await UntilAsync(lines, () => a.Node is { Role: NodeRole.Primary, IsProtected: true } && b.Node is { Role: NodeRole.Secondary, IsProtected: true }, "B to rejoin A", 20);
        NodeChannel again = await NodeChannel.ConnectAsync(network.CreateTransport(ClientAddress), b.Node.EndPoint, new NodeChannelOptions(null, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2)), _ => { }, CancellationToken.None);
        await UntilFailoverReadAsync(lines, again, pointer, 2, "the rejoined secondary to serve k=2");
    }

    [Fact]
    public async Task LongLinkCut_TheDroppedSecondaryRejoinsOnceTheLinkHeals_WithoutWaitingForTcpToRetransmitTheDrop()
    {
        // A cut that drops packets keeps the primary's drop (and its close) from the secondary, and TCP delivers
        // them only at its next retransmission: an operator's experiment saw a coordinator-mode pair stay
        // unprotected 24 s after a 30 s cut healed. Here that retransmission comes 60 s after the heal.
        await using EtcdProcess etcd = await EtcdProcess.StartAsync();
        var network = new InProcessNetwork();
        var lines = new ConcurrentQueue<string>();
        var coordinator = new CoordinatorOptions { EndPoints = [etcd.Url], PairName = "long-cut" };
        await using PairMember a = await PairMember.StartAsync(Options(network, AddressA, NodeRole.Primary, null, coordinator), network.CreateTransport(AddressA), new LineLoggers(lines, "A"));
        await using PairMember b = await PairMember.StartAsync(Options(network, AddressB, NodeRole.Secondary, a.Node.EndPoint, coordinator), network.CreateTransport(AddressB), new LineLoggers(lines, "B"));
        await UntilAsync(lines, () => a.Node is { Role: NodeRole.Primary, IsProtected: true } && b.Node is { Role: NodeRole.Secondary, IsProtected: true }, "the pair to form");
        await using var client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [a.Node.EndPoint], Transport = network.CreateTransport(ClientAddress), RequestTimeout = TimeSpan.FromSeconds(5) });

        network.Cut(AddressA, AddressB);
        network.Cut(AddressB, AddressA);
        await client.SetAsync("alone", "1"u8.ToArray());
        Assert.Contains(lines, line => line.Contains(" A ", StringComparison.Ordinal) && line.Contains($"in sync: {a.Node.EndPoint} alone", StringComparison.Ordinal));
        await UntilAsync(lines, () => lines.Any(line => line.Contains(" B ", StringComparison.Ordinal) && line.Contains("refusing reads: etcd records", StringComparison.Ordinal)), "B to learn from etcd that A goes on without it");
        await Task.Delay(TimeSpan.FromSeconds(2));

        network.Restore(retransmission: TimeSpan.FromSeconds(60));
        await UntilAsync(lines, () => a.Node is { Role: NodeRole.Primary, IsProtected: true } && b.Node is { Role: NodeRole.Secondary, IsProtected: true }, "B to rejoin A once the link heals", 10);
        Assert.Contains(lines, line => line.Contains(" B ", StringComparison.Ordinal) && line.Contains("it dropped this node", StringComparison.Ordinal));
        Assert.Equal((1UL, 1UL), (a.Node.Epoch, b.Node.Epoch));
        Assert.True(b.Node.Store.TryLookup("alone"u8, out _, out _));
    }

    [Fact]
    public async Task ProtectedSecondary_ServesReadsOnThePrimarysWord_WithoutReadingEtcd()
    {
        await using EtcdProcess etcd = await EtcdProcess.StartAsync();
        await using var gate = new EtcdGate(etcd.Url);
        await using ReadingPair pair = await ReadingPair.StartAsync(gate.Url, "link-lease");
        (ConcurrentQueue<string> lines, NodeChannel atB, RemotePointer pointer) = (pair.Lines, pair.AtB, pair.Pointer);

        // Two seconds of reads at the secondary: before READ_LEASE it read etcd's in-sync key 20 times a second for
        // them (40 reads); now the primary's echoes renew its lease, and etcd is asked only if they stop.
        int before = gate.RangeReads("/in-sync");
        int reads = await ServedReadsForAsync(atB, pointer, TimeSpan.FromSeconds(2));
        int etcdReads = gate.RangeReads("/in-sync") - before;
        Assert.True(etcdReads <= 2, $"the protected secondary read the in-sync key {etcdReads} times in 2 s ({reads} reads served):\n{string.Join("\n", lines.TakeLast(20))}");
    }

    [Fact]
    public async Task FrozenPrimary_SecondaryKeepsServingReads_OnEtcdsWord_UntilItTakesOver()
    {
        await using EtcdProcess etcd = await EtcdProcess.StartAsync();
        await using var gate = new EtcdGate(etcd.Url);
        await using ReadingPair pair = await ReadingPair.StartAsync(gate.Url, "frozen-lease");
        (ConcurrentQueue<string> lines, NodeChannel atB, RemotePointer pointer) = (pair.Lines, pair.AtB, pair.Pointer);

        // The primary stops as SIGSTOP stops it: no grant comes back, and nobody clears the in-sync key, so the
        // secondary renews its lease from etcd and serves every read until it has taken over.
        int before = gate.RangeReads("/in-sync");
        int leaderReads = gate.RangeReads("/leader");
        int readsBeforeClaim = -1;
        pair.Network.Freeze(AddressA);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var refused = new List<string>();
        int reads = 0;
        while (pair.B.Node.Role == NodeRole.Secondary && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            if (readsBeforeClaim < 0 && gate.RangeReads("/leader") > leaderReads)
            {
                // B's takeover reads the in-sync key too: count only the lease's reads before it.
                readsBeforeClaim = gate.RangeReads("/in-sync") - before;
            }

            (WireStatus status, long? value) = await FailoverReadAsync(atB, pointer);
            if (pair.B.Node.Role == NodeRole.Secondary && (status, value) != (WireStatus.Ok, 1L))
            {
                refused.Add($"{clock.ElapsedMilliseconds} ms: {status} {value}");
            }

            reads++;
            await Task.Delay(10);
        }

        pair.Network.Thaw(AddressA);
        Assert.True(reads >= 20, $"only {reads} reads before B left the secondary role ({pair.B.Node.Role}) in {clock.ElapsedMilliseconds} ms");
        Assert.True(refused.Count == 0, $"{refused.Count} of {reads} reads at the secondary failed while the primary was frozen: {string.Join("; ", refused.Take(5))}\n{string.Join("\n", lines.TakeLast(30))}");
        Assert.True(readsBeforeClaim >= 2, $"the secondary read the in-sync key {readsBeforeClaim} times before its takeover once the primary stopped granting");
    }

    [Fact]
    public async Task EtcdOutage_ProtectedSecondaryKeepsServingReads_OnThePrimarysGrants()
    {
        await using EtcdProcess etcd = await EtcdProcess.StartAsync();
        await using ReadingPair pair = await ReadingPair.StartAsync(etcd.Url, "outage-lease");
        (ConcurrentQueue<string> lines, NodeChannel atB, RemotePointer pointer) = (pair.Lines, pair.AtB, pair.Pointer);

        // etcd stands still: the primary cannot go on alone without it, so every acknowledged write still reaches B,
        // and its grants keep B serving (before READ_LEASE, B refused reads 200 ms into the outage).
        await etcd.PauseAsync();
        try
        {
            await ServedReadsForAsync(atB, pointer, TimeSpan.FromSeconds(1.5));
            await pair.Client.SetAsync("k", "2"u8.ToArray());
            await UntilFailoverReadAsync(lines, atB, pointer, 2, "the secondary to serve k=2, written during the outage");
        }
        finally
        {
            await etcd.ResumeAsync();
        }
    }

    // FAILOVER_READs of k every 10 ms for `duration`, each one served with k=1: how many there were.
    private static async Task<int> ServedReadsForAsync(NodeChannel channel, RemotePointer pointer, TimeSpan duration)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int reads = 0;
        while (clock.Elapsed < duration)
        {
            Assert.Equal((WireStatus.Ok, 1L), await FailoverReadAsync(channel, pointer));
            reads++;
            await Task.Delay(10);
        }

        return reads;
    }

    private static async Task UntilFailoverReadAsync(ConcurrentQueue<string> lines, NodeChannel channel, RemotePointer pointer, long expected, string what)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        (WireStatus, long?) last = default;
        while ((last = await FailoverReadAsync(channel, pointer)) != (WireStatus.Ok, expected))
        {
            Assert.True(clock.Elapsed.TotalSeconds < 15, $"waited 15 s for {what}; last answer {last}:\n{string.Join("\n", lines.TakeLast(40))}");
            await Task.Delay(20);
        }
    }

    // A FAILOVER_READ of the primary's pointer: the status and, when the slot holds a valid entry of k, its value.
    private static async Task<(WireStatus Status, long? Value)> FailoverReadAsync(NodeChannel channel, RemotePointer pointer)
    {
        PendingOperation op = channel.Rent();
        try
        {
            channel.PostRead(op, Opcode.FailoverRead, pointer, flush: true);
            await op.AsValueTask();
            byte[] slot = op.Payload.ToArray();
            return op.Status == WireStatus.Ok && EntryValidator.Validate(slot, "k"u8, 0, out ValidatedEntry entry) == EntryStatus.Ok
                ? (op.Status, long.Parse(entry.ValueOf(slot), System.Globalization.CultureInfo.InvariantCulture))
                : (op.Status, null);
        }
        finally
        {
            channel.Return(op);
        }
    }

    // A LOOKUP or GET of one key: the status of the answer.
    private static async Task<WireStatus> KeyRequestAsync(NodeChannel channel, Opcode opcode, string key)
    {
        PendingOperation op = channel.Rent();
        try
        {
            channel.PostKv(op, opcode, 0, default, System.Text.Encoding.UTF8.GetBytes(key), default, flush: true);
            await op.AsValueTask();
            return op.Status;
        }
        finally
        {
            channel.Return(op);
        }
    }

    // Waits.UntilAsync with the nodes' last lines when the wait fails.
    private static Task UntilAsync(ConcurrentQueue<string> lines, Func<bool> condition, string what, double seconds = 15) =>
        Waits.UntilAsync(condition, what, seconds, () => string.Join("\n", lines.TakeLast(40)));

    // What etcd does when a lease expires: the lease goes, and the leader key attached to it.
    private static async Task RevokeLeaderAsync(Uri etcd, string pair)
    {
        using var http = new HttpClient();
        string key = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"/mirrorkv/pairs/{pair}/leader"));
        using HttpResponseMessage range = await http.PostAsync(new Uri(etcd, "/v3/kv/range"), new StringContent($"{{\"key\":\"{key}\"}}"));
        System.Text.Json.Nodes.JsonNode reply = System.Text.Json.Nodes.JsonNode.Parse(await range.Content.ReadAsStringAsync())!;
        string lease = reply["kvs"]![0]!["lease"]!.ToString();
        using HttpResponseMessage revoke = await http.PostAsync(new Uri(etcd, "/v3/lease/revoke"), new StringContent($"{{\"ID\":\"{lease}\"}}"));
        Assert.True(revoke.IsSuccessStatusCode, await revoke.Content.ReadAsStringAsync());
    }

    private static NodeOptions Options(InProcessNetwork network, IPAddress address, NodeRole role, IPEndPoint? primary, CoordinatorOptions coordinator) => new()
    {
        Role = role,
        ListenEndPoint = new IPEndPoint(address, 7400),
        PrimaryEndPoint = primary,
        Store = new StoreOptions { MaxMemory = 16UL << 20, SlabSize = 64 << 10 },
        MaxFrameSize = 1 << 20,
        TimeProvider = network.TimeFor(address),
        Coordinator = coordinator,
    };

    /// <summary>
    /// A protected pair with a witness on the in-process network, k=1 written through a client, and a client channel
    /// to the secondary that has read k=1 there with FAILOVER_READ of the primary's pointer.
    /// </summary>
    private sealed class ReadingPair : IAsyncDisposable
    {
        private ReadingPair(InProcessNetwork network, ConcurrentQueue<string> lines, PairMember a, PairMember b)
        {
            (Network, Lines, A, B) = (network, lines, a, b);
        }

        public InProcessNetwork Network { get; }

        public ConcurrentQueue<string> Lines { get; }

        public PairMember A { get; }

        public PairMember B { get; }

        public MirrorKvClient Client { get; private set; } = null!;

        public NodeChannel AtB { get; private set; } = null!;

        public RemotePointer Pointer { get; private set; }

        public static async Task<ReadingPair> StartAsync(Uri etcd, string pairName)
        {
            var network = new InProcessNetwork();
            var lines = new ConcurrentQueue<string>();
            var coordinator = new CoordinatorOptions { EndPoints = [etcd], PairName = pairName };
            PairMember a = await PairMember.StartAsync(Options(network, AddressA, NodeRole.Primary, null, coordinator), network.CreateTransport(AddressA), new LineLoggers(lines, "A"));
            PairMember b = await PairMember.StartAsync(Options(network, AddressB, NodeRole.Secondary, a.Node.EndPoint, coordinator), network.CreateTransport(AddressB), new LineLoggers(lines, "B"));
            var pair = new ReadingPair(network, lines, a, b);
            try
            {
                await UntilAsync(lines, () => a.Node is { Role: NodeRole.Primary, IsProtected: true } && b.Node is { Role: NodeRole.Secondary, IsProtected: true }, "the pair to form");
                pair.Client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [a.Node.EndPoint], Transport = network.CreateTransport(ClientAddress), RequestTimeout = TimeSpan.FromSeconds(5) });
                await pair.Client.SetAsync("k", "1"u8.ToArray());
                Assert.True(a.Node.Store.TryLookup("k"u8, out RemotePointer pointer, out _));
                pair.Pointer = pointer;
                pair.AtB = await NodeChannel.ConnectAsync(network.CreateTransport(ClientAddress), b.Node.EndPoint, new NodeChannelOptions(null, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2)), _ => { }, CancellationToken.None);
                await UntilFailoverReadAsync(lines, pair.AtB, pointer, 1, "the secondary to serve k=1");
                return pair;
            }
            catch
            {
                await pair.DisposeAsync();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (AtB is not null)
            {
                await AtB.DisposeAsync();
            }

            if (Client is not null)
            {
                await Client.DisposeAsync();
            }

            await B.DisposeAsync();
            await A.DisposeAsync();
        }
    }

    private static long Stamp(string line) => long.Parse(line[..line.IndexOf(' ', StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Every log line of a node, stamped (UTC ticks) and named.</summary>
    private sealed class LineLoggers(ConcurrentQueue<string> lines, string node) : ILoggerFactory, ILogger
    {
        public void AddProvider(ILoggerProvider provider)
        {
        }

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue($"{DateTime.UtcNow.Ticks} {node} {logLevel} {formatter(state, exception)}");

        public void Dispose()
        {
        }
    }
}
