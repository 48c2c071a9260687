using System.Net;
using System.Net.Sockets;
using MirrorKv.Protocol;
using MirrorKv.Transport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MirrorKv.Adapter;

/// <summary>
/// One member of a pair across the incarnations of its node: it starts the node, and when the node has been
/// replaced (fenced for good, or a secondary that lost a primary it could not take over from) starts a new
/// incarnation at the same endpoint as a secondary of the current primary, which copies its slabs and
/// follows its stream. So the pair becomes protected again after a fault with no operator.
/// </summary>
/// <remarks>
/// The new incarnation keeps trying to attach (every 100 ms within <see cref="NodeOptions.PrimaryConnectTimeout"/>,
/// then again after a second) until the other node serves as primary: a fenced primary may learn that it was
/// replaced before its secondary has finished promoting. A rejoin throws away the old incarnation's data,
/// which the current primary holds.
/// </remarks>
public sealed partial class PairMember : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly NodeOptions _options;
    private readonly ITransport _transport;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private MirrorKvNode _node = null!;
    private Task _healing = Task.CompletedTask;
    private int _rejoins;
    private int _disposed;

    private PairMember(NodeOptions options, ITransport transport, ILoggerFactory loggers)
    {
        _options = options;
        _transport = transport;
        _loggers = loggers;
        _logger = loggers.CreateLogger("MirrorKv.Pair");
    }

    /// <summary>The current incarnation.</summary>
    public MirrorKvNode Node => Volatile.Read(ref _node);

    /// <summary>How many times the node has rejoined as secondary by itself.</summary>
    public int Rejoins => Volatile.Read(ref _rejoins);

    /// <summary>Raised when a new incarnation serves (after a rejoin), on the thread that started it.</summary>
    public event Action<MirrorKvNode>? Rejoined;

    /// <summary>Starts the first incarnation with <paramref name="options"/>.</summary>
    public static async Task<PairMember> StartAsync(NodeOptions options, ITransport transport, ILoggerFactory? loggers = null, CancellationToken cancellationToken = default)
    {
        var member = new PairMember(options, transport, loggers ?? NullLoggerFactory.Instance);
        MirrorKvNode node;
        try
        {
            node = await MirrorKvNode.StartAsync(options, transport, member._loggers, cancellationToken).ConfigureAwait(false);
        }
        catch (LeaderElsewhereException e)
        {
            // Started as primary with stale flags: etcd says another node leads. Join it.
            member.LogJoiningLeader(e.Leader.ToString());
            node = await MirrorKvNode.StartAsync(options with { Role = NodeRole.Secondary, PrimaryEndPoint = e.Leader.EndPoint }, transport, member._loggers, cancellationToken).ConfigureAwait(false);
        }

        member.Adopt(node);
        return member;
    }

    /// <summary>Stops healing and the current incarnation. A second call does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _healing.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        await Node.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private void Adopt(MirrorKvNode node)
    {
        Volatile.Write(ref _node, node);
        node.RejoinNeeded += OnRejoinNeeded;
    }

    private void OnRejoinNeeded(MirrorKvNode node, IPEndPoint? primary)
    {
        lock (_lock)
        {
            if (node != _node || _stopping.IsCancellationRequested || !_healing.IsCompleted)
            {
                return;
            }

            if (primary is null || primary.Equals(node.AdvertisedEndPoint))
            {
                LogNoPrimaryKnown(node.EndPoint.ToString());
                return;
            }

            _healing = RejoinAsync(node, primary);
        }
    }

    private async Task RejoinAsync(MirrorKvNode old, IPEndPoint primary)
    {
        CancellationToken stopping = _stopping.Token;

        // The old incarnation keeps its endpoint until the other node serves as primary: a node that rejoined
        // a dead or fenced peer would leave the pair with no node that can take anyone back.
        string? lastAnswer = null;
        while (true)
        {
            if (old.Role == NodeRole.Primary)
            {
                // Revived where it stood (its lost peer came back empty and joined it): nothing to rejoin.
                LogRejoinCancelled(old.Epoch);
                return;
            }

            if (old.Coordinator is { } coordinator && await AskCoordinatorAsync(old, coordinator, stopping).ConfigureAwait(false) is { } leader)
            {
                primary = leader;
            }

            if (old.Role == NodeRole.Primary)
            {
                continue;
            }

            (NodeRole Role, ulong Epoch)? answer = await NodeProbe.AskAsync(_transport, primary, _options.Secret, TimeSpan.FromSeconds(1), stopping).ConfigureAwait(false);
            // A replaced primary joins only a newer epoch; a secondary that lost or was dropped by its primary may
            // join the same one again.
            // A fenced primary at the same epoch takes its lost secondary back when it comes back empty.
            if (answer is { Role: NodeRole.Primary } serving && (serving.Epoch > old.Epoch || old.Role is NodeRole.Secondary or NodeRole.Rejoining && serving.Epoch == old.Epoch)
                || answer is { Role: NodeRole.Fenced } fenced && old.Role is NodeRole.Secondary or NodeRole.Rejoining && fenced.Epoch == old.Epoch && old.Coordinator is null)
            {
                break;
            }

            string now = answer is { } a ? $"{a.Role} at epoch {a.Epoch}" : "unreachable";
            if (now != lastAnswer)
            {
                LogWaitingForPrimary(primary.ToString(), now);
                lastAnswer = now;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), stopping).ConfigureAwait(false);
        }

        NodeOptions options = _options with
        {
            Role = NodeRole.Secondary,
            PrimaryEndPoint = primary,
            ListenEndPoint = old.EndPoint,
            AdvertisedEndPoint = old.AdvertisedEndPoint,
            RespListenEndPoint = old.RespEndPoint ?? _options.RespListenEndPoint,
            SentinelListenEndPoint = old.SentinelEndPoint ?? _options.SentinelListenEndPoint,
        };
        LogRejoining(old.Role, old.Epoch, old.Lsn, primary.ToString());
        await old.DisposeAsync().ConfigureAwait(false);
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                MirrorKvNode node = await MirrorKvNode.StartAsync(options, _transport, _loggers, stopping).ConfigureAwait(false);
                lock (_lock)
                {
                    Adopt(node);
                }

                Interlocked.Increment(ref _rejoins);
                Rejoined?.Invoke(node);
                return;
            }
            catch (Exception e) when (e is TimeoutException or SocketException or IOException or InvalidOperationException or PrimaryRefusedException)
            {
                LogRejoinRetry(primary.ToString(), e.Message);
            }

            await Task.Delay(TimeSpan.FromSeconds(1), stopping).ConfigureAwait(false);
        }
    }

    // With a witness, etcd says who leads; when nobody does (both nodes were lost), this node claims the key
    // and serves again with what it holds. Returns the leader to join, or null.
    private async Task<IPEndPoint?> AskCoordinatorAsync(MirrorKvNode old, PairCoordinator coordinator, CancellationToken stopping)
    {
        try
        {
            LeaderRecord? leader = await coordinator.ReadLeaderAsync(stopping).ConfigureAwait(false);
            if (leader is not null)
            {
                return leader.EndPoint.Equals(old.AdvertisedEndPoint) ? null : leader.EndPoint;
            }

            if (old.Role != NodeRole.Fenced)
            {
                return null;
            }

            PairCoordinator.Claim claim = await coordinator.TryLeadAsync(old.AdvertisedEndPoint, null, mustBeInSync: true, stopping).ConfigureAwait(false);
            if (claim.Won)
            {
                old.TryReviveAsLeader(claim);
            }

            return claim.Holder?.EndPoint;
        }
        catch (EtcdException)
        {
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "etcd names {Leader} as the pair's primary: starting as its secondary instead")]
    private partial void LogJoiningLeader(string leader);

    [LoggerMessage(Level = LogLevel.Information, Message = "waiting to rejoin {Primary} until it serves as primary (it is {Answer}); this node stays fenced meanwhile")]
    private partial void LogWaitingForPrimary(string primary, string answer);

    [LoggerMessage(Level = LogLevel.Information, Message = "no rejoin: this node serves as primary again (epoch {Epoch})")]
    private partial void LogRejoinCancelled(ulong epoch);

    [LoggerMessage(Level = LogLevel.Warning, Message = "rejoining the pair: this {Role} (epoch {Epoch}, LSN {Lsn}) restarts as secondary of {Primary}, copying its data")]
    private partial void LogRejoining(NodeRole role, ulong epoch, ulong lsn, string primary);

    [LoggerMessage(Level = LogLevel.Warning, Message = "could not rejoin {Primary} yet ({Reason}); trying again")]
    private partial void LogRejoinRetry(string primary, string reason);

    [LoggerMessage(Level = LogLevel.Critical, Message = "{EndPoint} must rejoin the pair but knows no other node to join: it stays fenced until an operator restarts it with --role secondary --primary <primary>")]
    private partial void LogNoPrimaryKnown(string endPoint);
}
