using System.Net;
using System.Text;
using MirrorKv.Adapter;
using MirrorKv.Client;
using MirrorKv.Protocol;
using MirrorKv.Transport.InProcess;

namespace MirrorKv.Testing;

/// <summary>
/// Two pair members (nodes that heal themselves) on an in-process network whose nodes can be frozen:
/// <see cref="A"/> starts as primary, <see cref="B"/> as its secondary.
/// </summary>
public sealed class MemberPair : IAsyncDisposable
{
    private readonly List<MirrorKvClient> _clients = [];

    private MemberPair(InProcessNetwork network, PairMember a, PairMember b, System.Collections.Concurrent.ConcurrentQueue<string> lines)
    {
        Lines = lines;
        Network = network;
        A = a;
        B = b;
    }

    public InProcessNetwork Network { get; }

    /// <summary>Both nodes' log lines, to show when a wait fails.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> Lines { get; } = new();

    public PairMember A { get; }

    public PairMember B { get; }

    /// <summary>Starts the pair; with <paramref name="resp"/>, each node also serves RESP on port 6379 of its address.</summary>
    public static async Task<MemberPair> StartAsync(bool resp = false)
    {
        var network = new InProcessNetwork();
        var lines = new System.Collections.Concurrent.ConcurrentQueue<string>();
        PairMember a = await PairMember.StartAsync(
            new NodeOptions { Role = NodeRole.Primary, ListenEndPoint = new IPEndPoint(PairFixture.PrimaryAddress, 7400), RespListenEndPoint = resp ? new IPEndPoint(PairFixture.PrimaryAddress, 6379) : null, Store = PairFixture.SmallStore, MaxFrameSize = 1 << 20, TimeProvider = network.TimeFor(PairFixture.PrimaryAddress) },
            network.CreateTransport(PairFixture.PrimaryAddress), new CapturingLoggerFactory(lines, "A"));
        PairMember b = await PairMember.StartAsync(
            new NodeOptions { Role = NodeRole.Secondary, ListenEndPoint = new IPEndPoint(PairFixture.SecondaryAddress, 7400), RespListenEndPoint = resp ? new IPEndPoint(PairFixture.SecondaryAddress, 6379) : null, PrimaryEndPoint = a.Node.EndPoint, Store = PairFixture.SmallStore, MaxFrameSize = 1 << 20, TimeProvider = network.TimeFor(PairFixture.SecondaryAddress) },
            network.CreateTransport(PairFixture.SecondaryAddress), new CapturingLoggerFactory(lines, "B"));
        var pair = new MemberPair(network, a, b, lines);
        await pair.WaitProtectedAsync(primary: a, "the pair to form");
        return pair;
    }

    /// <summary>Waits until <paramref name="primary"/> serves as primary with the other as its protected secondary.</summary>
    public Task WaitProtectedAsync(PairMember primary, string what, double seconds = 15)
    {
        PairMember secondary = primary == A ? B : A;
        return Waits.UntilAsync(() => primary.Node is { Role: NodeRole.Primary, IsProtected: true } && secondary.Node is { Role: NodeRole.Secondary, IsProtected: true }, what, seconds, () => string.Join("\n", Lines.TakeLast(60)));
    }

    public async Task<MirrorKvClient> ConnectClientAsync()
    {
        MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions
        {
            EndPoints = [A.Node.EndPoint],
            Transport = Network.CreateTransport(PairFixture.ClientAddress),
            RequestTimeout = TimeSpan.FromSeconds(2),
        });
        _clients.Add(client);
        return client;
    }

    public static byte[] Bytes(string s) => Encoding.UTF8.GetBytes(s);

    /// <summary>
    /// A silent death of the secondary: frozen (so the primary's lease runs out first), then crashed without
    /// resuming, as a paused process killed with SIGKILL.
    /// </summary>
    public async Task KillSecondarySilentlyAsync()
    {
        Network.Freeze(PairFixture.SecondaryAddress);
        await Waits.UntilAsync(() => A.Node.Role == NodeRole.Fenced, "the primary to fence when the secondary fell silent");
        Network.Crash(PairFixture.SecondaryAddress);
        Network.Thaw(PairFixture.SecondaryAddress);
    }

    /// <summary>
    /// Samples both nodes every few milliseconds until stopped and records each moment both serve as primary.
    /// A primary whose lease ran out but has not noticed yet still says Primary, so only a primary with lease
    /// time left counts as serving.
    /// </summary>
    public async Task WatchServingPrimariesAsync(System.Collections.Concurrent.ConcurrentQueue<string> overlaps, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            MirrorKvNode a = A.Node, b = B.Node;
            if (a.Role == NodeRole.Primary && a.LeaseRemaining > TimeSpan.Zero && b.Role == NodeRole.Primary && b.LeaseRemaining > TimeSpan.Zero)
            {
                overlaps.Enqueue($"A epoch {a.Epoch} lease {a.LeaseRemaining.TotalMilliseconds:F0} ms, B epoch {b.Epoch} lease {b.LeaseRemaining.TotalMilliseconds:F0} ms");
            }

            await Task.Delay(2);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (MirrorKvClient client in _clients)
        {
            await client.DisposeAsync();
        }

        await B.DisposeAsync();
        await A.DisposeAsync();
    }
}
