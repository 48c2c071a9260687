using System.Collections.Concurrent;
using System.Net;
using MirrorKv.Adapter;
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

    [Fact]
    public async Task PrimaryResumingWhileTheSecondaryClaimsTheKey_IsNotRenewedByTheSecondary_AndRejoins()
    {
        await using EtcdProcess etcd = await EtcdProcess.StartAsync();
        await using var gate = new EtcdGate(etcd.Url);
        var network = new InProcessNetwork();
        var lines = new ConcurrentQueue<string>();

        // A request timeout well above the time the test holds a claim, so that the claim is not given up meanwhile.
        var coordinator = new CoordinatorOptions { Endpoints = [gate.Url], PairName = "takeover", RequestTimeout = TimeSpan.FromMilliseconds(1500) };
        await using PairMember a = await PairMember.StartAsync(Options(network, AddressA, NodeRole.Primary, null, coordinator), network.CreateTransport(AddressA), new LineLoggers(lines, "A"));
        await using PairMember b = await PairMember.StartAsync(Options(network, AddressB, NodeRole.Secondary, a.Node.EndPoint, coordinator), network.CreateTransport(AddressB), new LineLoggers(lines, "B"));
        await Waits.UntilAsync(() => a.Node is { Role: NodeRole.Primary, IsProtected: true } && b.Node is { Role: NodeRole.Secondary, IsProtected: true }, "the pair to form");

        // A stands still past its etcd lease; B, hearing nothing for 1 s, claims the leader key once etcd let
        // A's lease expire, and that claim (a winning one: no leader key any more) waits at the gate.
        gate.Hold();
        network.Freeze(AddressA);
        await Waits.UntilAsync(() => gate.Held >= 1, "the secondary to claim the leader key once the frozen primary's etcd lease expired");

        // A resumes: its lease ran out, it fences and heartbeats B, and finds its own etcd lease gone, so it
        // claims the key back: that claim waits behind B's. B must not renew A's lease meanwhile: etcd may
        // make B primary any moment, and A would then serve on a lease B granted.
        long thawed = DateTime.UtcNow.Ticks;
        network.Thaw(AddressA);
        bool AServedAgain() => lines.Any(line => line.Contains(" A ", StringComparison.Ordinal) && line.Contains("-> Primary (epoch 1)", StringComparison.Ordinal) && Stamp(line) > thawed);
        await Waits.UntilAsync(() => gate.Held >= 2, "the resumed primary to claim its key back");
        await Waits.UntilAsync(() => AServedAgain() || lines.Any(line => line.Contains(" B ", StringComparison.Ordinal) && line.Contains("its lease is not renewed", StringComparison.Ordinal)), "B to hear the resumed primary during its takeover");
        Assert.False(AServedAgain(), $"A served again at epoch 1 on B's echo while B's claim was in flight:\n{string.Join("\n", lines.TakeLast(40))}");
        Assert.Equal(NodeRole.Fenced, a.Node.Role);

        // B's claim goes first and wins; A learns it and rejoins B.
        await gate.ReleaseAsync();
        await Waits.UntilAsync(() => b.Node is { Role: NodeRole.Primary, Epoch: 2, IsProtected: true } && a.Node is { Role: NodeRole.Secondary, IsProtected: true }, "B to lead under epoch 2 with A rejoined as its secondary");
        Assert.False(AServedAgain(), string.Join("\n", lines.TakeLast(40)));
    }

    private static NodeOptions Options(InProcessNetwork network, IPAddress address, NodeRole role, IPEndPoint? primary, CoordinatorOptions coordinator) => new()
    {
        Role = role,
        ListenEndPoint = new IPEndPoint(address, 7400),
        PrimaryEndPoint = primary,
        Store = new StoreOptions { RegionSize = 16UL << 20, SlabSize = 64 << 10 },
        MaxFrameSize = 1 << 20,
        TimeProvider = network.TimeFor(address),
        Coordinator = coordinator,
    };

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
