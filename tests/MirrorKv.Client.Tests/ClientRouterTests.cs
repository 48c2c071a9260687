using System.Collections.Concurrent;
using System.Net;
using MirrorKv.Client;
using MirrorKv.Memory;
using MirrorKv.Protocol;

namespace MirrorKv.Client.Tests;

/// <summary>
/// The client's state machine alone, without a node: every edge of <see cref="ClientRouter.IsAllowed"/> is
/// taken and raised once with its old and new state, every other edge is refused with nothing changed, and a
/// transition decided on a stale route is refused quietly. Primaries are channels that never connected.
/// </summary>
public class ClientRouterTests
{
    private static readonly ClientPath[] States = Enum.GetValues<ClientPath>();

    private static readonly HashSet<(ClientPath From, ClientPath To)> Edges =
    [
        (ClientPath.Connecting, ClientPath.Primary),
        (ClientPath.Connecting, ClientPath.Closed),
        (ClientPath.Primary, ClientPath.Primary),
        (ClientPath.Primary, ClientPath.FailingOver),
        (ClientPath.Primary, ClientPath.Closed),
        (ClientPath.FailingOver, ClientPath.Primary),
        (ClientPath.FailingOver, ClientPath.Secondary),
        (ClientPath.FailingOver, ClientPath.Closed),
        (ClientPath.Secondary, ClientPath.Primary),
        (ClientPath.Secondary, ClientPath.Closed),
    ];

    public static TheoryData<ClientPath, ClientPath> AllowedEdges() => [.. Edges];

    public static TheoryData<ClientPath, ClientPath> ForbiddenEdges() =>
        [.. States.SelectMany(from => States.Select(to => (from, to))).Where(e => !Edges.Contains(e))];

    [Fact]
    public void IsAllowed_HoldsExactlyTheDocumentedEdges()
    {
        foreach (ClientPath from in States)
        {
            foreach (ClientPath to in States)
            {
                Assert.True(Edges.Contains((from, to)) == ClientRouter.IsAllowed(from, to), $"{from} -> {to}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(AllowedEdges))]
    public async Task TryTransition_AllowedEdge_MovesRaisesOnceWithOldAndNewStateAndLogs(ClientPath from, ClientPath to)
    {
        await using var machine = new Machine();
        machine.Reach(from);
        machine.Forget();

        Assert.True(machine.Router.TryTransition(machine.Router.Route, to, to == ClientPath.Primary ? Node(9, epoch: 1, incarnation: 1) : null));

        Assert.Equal(to, machine.Router.Route.Path);
        ClientRouteChangedEventArgs change = Assert.Single(machine.Changes);
        Assert.Equal(from, change.PreviousPath);
        Assert.Equal(to, change.Path);
        Assert.Same(machine.Sender, machine.Senders.Single());
        Assert.Single(machine.Lines, l => l.EndsWith($"(path {from} -> {to})", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(ForbiddenEdges))]
    public async Task TryTransition_ForbiddenEdge_IsRefusedWithNothingChangedNoEventAndAnError(ClientPath from, ClientPath to)
    {
        await using var machine = new Machine();
        machine.Reach(from);
        machine.Forget();
        ClientRoute before = machine.Router.Route;

        Assert.False(machine.Router.TryTransition(before, to, to == ClientPath.Primary ? Node(9, epoch: 1, incarnation: 1) : null));

        Assert.Same(before, machine.Router.Route);
        Assert.Empty(machine.Changes);
        Assert.Single(machine.Lines, l => l.StartsWith($"Error MirrorKv client refused the transition {from} -> {to}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TryTransition_ToPrimaryWithoutAPrimary_OrElsewhereWithOne_IsRefused()
    {
        await using var machine = new Machine();
        Assert.False(machine.Router.TryTransition(machine.Router.Route, ClientPath.Primary));
        machine.Reach(ClientPath.Primary);
        Assert.False(machine.Router.TryTransition(machine.Router.Route, ClientPath.FailingOver, Node(9, epoch: 1, incarnation: 1)));
        Assert.Equal(ClientPath.Primary, machine.Router.Route.Path);
        Assert.Single(machine.Changes);
    }

    [Fact]
    public async Task TryTransition_FromARouteThatMovedOn_IsRefusedQuietly()
    {
        await using var machine = new Machine();
        machine.Reach(ClientPath.Primary);
        ClientRoute decidedOn = machine.Router.Route;
        Assert.True(machine.Router.TryTransition(decidedOn, ClientPath.FailingOver));
        machine.Forget();

        // The same failure seen a second time, and a rewrite that finished after another primary was adopted.
        Assert.False(machine.Router.TryTransition(decidedOn, ClientPath.FailingOver));
        ClientRoute failingOver = machine.Router.Route;
        Assert.True(machine.Router.TryTransition(failingOver, ClientPath.Primary, Node(2, epoch: 2, incarnation: 2)));
        Assert.False(machine.Router.TryTransition(failingOver, ClientPath.Secondary));

        Assert.Equal(ClientPath.Primary, machine.Router.Route.Path);
        Assert.Single(machine.Changes);
        Assert.DoesNotContain(machine.Lines, l => l.StartsWith("Error", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TryTransition_ToPrimary_SaysWhyFromTheEpochAndTheIncarnation()
    {
        await using var machine = new Machine();
        Adopt(machine, Node(1, epoch: 3, incarnation: 10));
        Assert.True(machine.Router.TryTransition(machine.Router.Route, ClientPath.FailingOver));
        Adopt(machine, Node(2, epoch: 4, incarnation: 20));
        Adopt(machine, Node(1, epoch: 1, incarnation: 30));
        Adopt(machine, Node(1, epoch: 1, incarnation: 30));

        Assert.Equal(
            [RouteChangeReason.Connected, RouteChangeReason.PrimaryFailed, RouteChangeReason.PromotionFollowed, RouteChangeReason.PrimaryRestarted, RouteChangeReason.PrimaryResumed],
            machine.Changes.Select(c => c.Reason));
        Assert.Equal([3UL, 3, 4, 1, 1], machine.Changes.Select(c => c.Epoch));
        Assert.Equal(1, machine.Router.PromotionsFollowed);
        Assert.Contains(machine.Lines, l => l.StartsWith("Warning MirrorKv writes follow the promoted node 127.0.0.1:7402 (epoch 4)", StringComparison.Ordinal));
        Assert.Contains(machine.Lines, l => l.Contains("(the client's primary was at epoch 4): the pair was restarted", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RouteChanged_TransitionMadeInAHandler_IsRaisedAfterIt_InOrder()
    {
        await using var machine = new Machine();
        machine.Router.RouteChanged += (_, e) =>
        {
            if (e.Path == ClientPath.FailingOver)
            {
                Assert.True(machine.Router.TryTransition(machine.Router.Route, ClientPath.Secondary));
                Assert.Equal(ClientPath.FailingOver, machine.Changes.Last().Path);
            }
        };

        machine.Reach(ClientPath.Primary);
        Assert.True(machine.Router.TryTransition(machine.Router.Route, ClientPath.FailingOver));

        Assert.Equal([ClientPath.Primary, ClientPath.FailingOver, ClientPath.Secondary], machine.Changes.Select(c => c.Path));
        Assert.Equal(ClientPath.Secondary, machine.Router.Route.Path);
    }

    [Fact]
    public async Task RouteChanged_HandlerThatThrows_IsLogged_AndTheNextTransitionIsStillRaised()
    {
        await using var machine = new Machine();
        machine.Router.RouteChanged += (_, e) => throw new InvalidOperationException("handler " + e.Path);

        machine.Reach(ClientPath.Primary);
        Assert.True(machine.Router.TryTransition(machine.Router.Route, ClientPath.FailingOver));

        Assert.Equal(ClientPath.FailingOver, machine.Router.Route.Path);
        Assert.Equal(2, machine.Lines.Count(l => l.StartsWith("Error A handler of the MirrorKv client's route change", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task PathChanged_IsRaisedForEveryPathAfterConnect_NotForConnectOrClose()
    {
        await using var machine = new Machine();
        var paths = new List<ClientPath>();
        machine.Router.PathChanged += paths.Add;

        machine.Reach(ClientPath.Secondary);
        Adopt(machine, Node(2, epoch: 2, incarnation: 2));
        await machine.Router.DisposeAsync();

        Assert.Equal([ClientPath.FailingOver, ClientPath.Secondary, ClientPath.Primary], paths);
        Assert.Equal(ClientPath.Closed, machine.Changes.Last().Path);
        Assert.True(machine.Router.Disposed.IsCancellationRequested);
    }

    private static void Adopt(Machine machine, NodeChannel primary) =>
        Assert.True(machine.Router.TryTransition(machine.Router.Route, ClientPath.Primary, primary));

    private static NodeChannel Node(int n, ulong epoch, ulong incarnation) => NodeChannel.Unconnected(
        new IPEndPoint(IPAddress.Loopback, 7400 + n),
        new HelloReply
        {
            Role = NodeRole.Primary,
            Epoch = epoch,
            Incarnation = incarnation,
            SlabSize = 1 << 20,
            MaxFrameSize = 1 << 20,
            Regions = [new RegionInfo((uint)(100 + n), AccessFlags.RemoteRead, 0x100000UL * (ulong)n, 1 << 20)],
        });

    /// <summary>A router with no node behind it, its events and its log lines.</summary>
    private sealed class Machine : IAsyncDisposable
    {
        private readonly ConcurrentQueue<string> _lines = new();
        private readonly CapturingLoggerFactory _loggers;

        public Machine()
        {
            _loggers = new CapturingLoggerFactory(_lines);
            var options = new MirrorKvClientOptions { EndPoints = [new IPEndPoint(IPAddress.Loopback, 7401)] };
            Router = new ClientRouter(options, _loggers.CreateLogger("test"), new Transport.Tcp.TcpTransport(), new ConnectionHealth("test"), new PointerTable(), Sender);
            Router.RouteChanged += (sender, e) =>
            {
                Senders.Add(sender);
                Changes.Add(e);
            };
        }

        public object Sender { get; } = new();

        public ClientRouter Router { get; }

        public List<ClientRouteChangedEventArgs> Changes { get; } = [];

        public List<object?> Senders { get; } = [];

        public IEnumerable<string> Lines => _lines;

        /// <summary>Takes the machine to <paramref name="state"/> along allowed edges from Connecting.</summary>
        public void Reach(ClientPath state)
        {
            if (state == ClientPath.Connecting)
            {
                return;
            }

            Adopt(this, Node(1, epoch: 1, incarnation: 1));
            if (state is ClientPath.FailingOver or ClientPath.Secondary)
            {
                Assert.True(Router.TryTransition(Router.Route, ClientPath.FailingOver));
            }

            if (state == ClientPath.Secondary)
            {
                Assert.True(Router.TryTransition(Router.Route, ClientPath.Secondary));
            }

            if (state == ClientPath.Closed)
            {
                Assert.True(Router.TryTransition(Router.Route, ClientPath.Closed));
            }

            Assert.Equal(state, Router.Route.Path);
        }

        /// <summary>Drops the events and lines of the way there.</summary>
        public void Forget()
        {
            Changes.Clear();
            Senders.Clear();
            _lines.Clear();
        }

        public async ValueTask DisposeAsync()
        {
            await Router.DisposeAsync();
            _loggers.Dispose();
        }
    }
}
