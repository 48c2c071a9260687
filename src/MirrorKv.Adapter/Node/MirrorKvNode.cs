using System.Net;
using MirrorKv.Memory;
using MirrorKv.Protocol;
using MirrorKv.Store;
using MirrorKv.Transport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MirrorKv.Adapter;

/// <summary>
/// One MirrorKv node: a store engine and the adapter in front of it (verbs engine, HA module, replication),
/// listening on one endpoint. A primary streams every slot it writes to the secondary that dialed it; a
/// secondary mirrors the primary's region with its own slab order and serves reads of it.
/// </summary>
public sealed partial class MirrorKvNode : IAsyncDisposable
{
    private readonly Lock _haLock = new();
    private ITimer? _heartbeats;
    private ITimer? _guard;
    private ITimer? _reaper;
    private readonly NodeTelemetry _telemetry;
    private readonly TimeProvider _time;
    private readonly Lease _lease;
    private long _lastPeerFrame;
    private volatile NodeRole _peerRole;
    private readonly ILogger _logger;
    private readonly RegionRegistry _registry = new();
    private readonly AckWaiters _waiters;
    private readonly RoleMachine _role;
    private readonly NodeFrameHandler _handler;
    private IListener? _listener;
    private ITransport? _transport;
    private SecondaryLink? _link;
    private IPEndPoint? _secondaryEndPoint;
    private IPEndPoint? _secondaryRespEndPoint;
    private readonly ClusterGate? _cluster;

    private MirrorKvNode(NodeOptions options, ILoggerFactory loggers)
    {
        Options = options;
        _logger = loggers.CreateLogger("MirrorKv.Node");
        _time = options.TimeProvider;
        _lastPeerFrame = _time.GetTimestamp();
        _lastTick = _lastPeerFrame;
        _lease = new Lease(_time, options.LeaseDuration);

        // A secondary is Rejoining until it has attached and copied the primary's slabs: until then it holds
        // nothing to serve, so it refuses failover reads and never promotes itself.
        _role = new RoleMachine(options.Role == NodeRole.Secondary ? NodeRole.Rejoining : options.Role, options.Role == NodeRole.Primary ? options.InitialEpoch : 0UL, _logger, options.Coordinator is not null);
        _isPrimary = options.Role == NodeRole.Primary;
        _role.Changed += (_, now) => _isPrimary = now == NodeRole.Primary;
        Incarnation = SecureRandom.NextUInt64();

        // Before the region is allocated (seconds for a large one), so that the copy path is optimized code by
        // the time this node copies a primary's slabs, whatever its role now.
        SlabCopyWarmUp.Start().ContinueWith(t => LogWarmUpFailed(t.Exception!.GetBaseException()), CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

        // A secondary takes slabs from the top down, so its slab order (and so its deltas) differ from the primary's.
        StoreOptions storeOptions = options.Role == NodeRole.Secondary ? options.EffectiveStore with { SlabOrder = SlabOrder.Descending } : options.EffectiveStore;
        StoreEngine? store = null;
        _waiters = new AckWaiters { Publish = lsn => store!.Publish(lsn) };
        Stream = new ReplicationStream { PublishAfterAck = options.Replication == ReplicationMode.Sync, Waiters = _waiters };

        // The store registers each chunk here as it adds it (the first one now), before any pointer into it leaves.
        Store = store = new StoreEngine(storeOptions, AccessFlags.RemoteRead, Stream, _registry);
        var verbs = new VerbsEngine(_registry, () => Store.Translation?.Current, Store.Access);
        _cluster = options.Coordinator is { Cluster: not null } coordinator ? new ClusterGate(coordinator, options.RespListenEndPoint is not null, loggers.CreateLogger("MirrorKv.Cluster")) : null;
        var twoSided = new TwoSidedPath(Store, _role, Stream, _waiters, options.Replication, () => Volatile.Read(ref _secondaryEndPoint), OnNewerEpochSeen, Counters, _cluster, options.PrimaryEndPoint);
        SlotTransferPath? slotMoves = _cluster is null ? null : new SlotTransferPath(Store, _role, Stream, _waiters, options.Replication, _cluster, Counters);
        _handler = new NodeFrameHandler(this, verbs, twoSided, slotMoves, _logger);
        _telemetry = new NodeTelemetry(this, Counters);
    }

    /// <summary>The options in force.</summary>
    public NodeOptions Options { get; }

    /// <summary>The store engine (for tests and status; clients go through the adapter).</summary>
    public StoreEngine Store { get; }

    /// <summary>Random per start: tells this process from an earlier one at the same endpoint.</summary>
    public ulong Incarnation { get; }

    /// <summary>Where the node listens (with the real port).</summary>
    public IPEndPoint EndPoint => (IPEndPoint)(_listener?.LocalEndPoint ?? Options.ListenEndPoint);

    /// <summary>Where clients reach the node.</summary>
    public IPEndPoint AdvertisedEndPoint => Options.AdvertisedEndPoint ?? EndPoint;

    /// <summary>Current role.</summary>
    public NodeRole Role => _role.Role;

    /// <summary>Current epoch.</summary>
    public ulong Epoch => _role.Current.Epoch;

    /// <summary>
    /// True when both nodes count the pair as protected: a primary has told its attached secondary that it
    /// holds all of its data, and a secondary has heard so, is receiving the stream and can vouch for holding
    /// every acknowledged write (see <see cref="HoldsEveryAcknowledgedWrite"/>). (Only once it has heard so may
    /// the secondary promote.)
    /// </summary>
    public bool IsProtected => Role switch
    {
        NodeRole.Primary => Stream.Peer is { IsOpen: true } && _peerRole == NodeRole.Secondary && _sentProtected && _peerSawProtected,
        // Only while it can vouch for holding every acknowledged write: a secondary the primary dropped behind a
        // silent link, or whose read lease lapsed (a witness pair), said "protected" while it refused to serve.
        NodeRole.Secondary => _link is { IsConnected: true } && HoldsEveryAcknowledgedWrite,
        _ => false,
    };

    /// <summary>
    /// Primary (and a fenced or promoted one): last LSN written. Secondary and rejoining: last LSN applied,
    /// the primary's numbering, so the two compare.
    /// </summary>
    public ulong Lsn => _link is { } link && Role is NodeRole.Secondary or NodeRole.Rejoining ? link.AppliedLsn : Stream.LastLsn;

    /// <summary>The primary's lease: time left (zero when run out; <see cref="TimeSpan.MaxValue"/> when no secondary could replace it).</summary>
    public TimeSpan LeaseRemaining => Role is NodeRole.Primary or NodeRole.Fenced ? _lease.Remaining : TimeSpan.Zero;

    /// <summary>Primary: last LSN the secondary confirmed.</summary>
    public ulong AckedLsn => _waiters.AckedLsn;

    /// <summary>Connections accepted and open now (clients, the peer, and any not yet past the handshake).</summary>
    public int ConnectionCount => _handler.OpenConnections.Count;

    /// <summary>Reply bytes posted to accepted connections and not yet on the wire, summed: the send side's memory.</summary>
    public long QueuedBytes
    {
        get
        {
            long total = 0;
            foreach (IConnection connection in _handler.OpenConnections)
            {
                total += connection.QueuedBytes;
            }

            return total;
        }
    }

    /// <summary>The cluster map this node serves by, or null outside a cluster (or before the first map).</summary>
    public ClusterMap? ClusterMap => _cluster?.Map;

    internal ClusterGate? Cluster => _cluster;

    internal ReplicationStream Stream { get; }

    internal NodeCounters Counters { get; } = new();

    /// <summary>Starts a node: allocates its region, listens, and for a secondary attaches to the primary.</summary>
    public static async Task<MirrorKvNode> StartAsync(NodeOptions options, ITransport transport, ILoggerFactory? loggers = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(transport);
        options.Validate();
        ILoggerFactory factory = loggers ?? NullLoggerFactory.Instance;
        (PairCoordinator? coordinator, PairCoordinator.Claim claim, options) = await CoordinateStartAsync(options, transport, factory, cancellationToken).ConfigureAwait(false);
        var node = new MirrorKvNode(options, factory) { _coordinator = coordinator };
        try
        {
            node.WatchWitness(claim);
            if (node._cluster is not null)
            {
                // Before listening: a cluster node must know which slots it owns before it serves any key.
                await node._cluster.StartAsync(cancellationToken).ConfigureAwait(false);
            }

            node._transport = transport;
            node._listener = transport.Listen(options.ListenEndPoint, node._handler);
            node.LogListening(node.Role, node.EndPoint.ToString(), node.Store.Options.MaxMemory >> 20, node.Store.Memory.Length >> 10);
            node.ListenResp(transport);
            if (options.Role == NodeRole.Secondary)
            {
                node._link = new SecondaryLink(node.Store, node._role, options, node.OnPrimaryReset, node._logger);
                node._link.HandoverOffered += node.OnHandoverOffered;
                node._link.ReadLeaseGranted += node.OnReadLeaseGranted;
                await node._link.ConnectAsync(transport, node.AdvertisedEndPoint, node.AdvertisedRespEndPoint, cancellationToken).ConfigureAwait(false);
            }

            node.StartHeartbeats();
            node.StartReadLease();
            node._guard = node._time.CreateTimer(static s => ((MirrorKvNode)s!).SweepConnections(), node, node.GuardPeriod, node.GuardPeriod);
            node._reaper = node._time.CreateTimer(static s => ((MirrorKvNode)s!).ReapExpired(), node, options.ExpiryReapInterval, options.ExpiryReapInterval);
            return node;
        }
        catch
        {
            await node.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Stops listening, closes every connection and releases the region.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_heartbeats is not null)
        {
            await _heartbeats.DisposeAsync().ConfigureAwait(false);
        }

        if (_guard is not null)
        {
            await _guard.DisposeAsync().ConfigureAwait(false);
        }

        if (_reaper is not null)
        {
            await _reaper.DisposeAsync().ConfigureAwait(false);
        }

        (NodeRole role, ulong epoch) = _role.Current;
        if (role != NodeRole.Stopped)
        {
            _role.TransitionTo(NodeRole.Stopped, epoch, "shutting down");
        }

        if (_listener is not null)
        {
            await _listener.DisposeAsync().ConfigureAwait(false);
        }

        await StopRespAsync().ConfigureAwait(false);
        _link?.Close();
        foreach (IConnection connection in _handler.OpenConnections)
        {
            connection.Abort(null);
        }

        _telemetry.Dispose();
        if (_coordinator is not null)
        {
            await _coordinator.DisposeAsync().ConfigureAwait(false);
        }

        if (_cluster is not null)
        {
            await _cluster.DisposeAsync().ConfigureAwait(false);
        }

        Store.Dispose();
    }

    // Timeouts are seconds long: checking a few times a second keeps them accurate without a timer per connection.
    private TimeSpan GuardPeriod => TimeSpan.FromTicks(Math.Min(Options.HandshakeTimeout.Ticks, Math.Min(Options.FrameTimeout.Ticks, Options.UnreadRepliesTimeout.Ticks)) / 4);

    /// <summary>Entries reclaimed because their expiry passed, since start.</summary>
    public long ExpiredEntriesReaped => Interlocked.Read(ref _expiredReaped);

    private long _expiredReaped;

    private int _reaping;

    private void ReapExpired()
    {
        // A timer tick that finds the last sweep still running skips: sweeps queued behind the store's lock would
        // hold it back to back and starve the writers.
        if (Role != NodeRole.Primary || Interlocked.Exchange(ref _reaping, 1) != 0)
        {
            return;
        }

        try
        {
            int reaped = Store.ReapExpired(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), Options.ExpiryReapSlots);
            if (reaped > 0)
            {
                Interlocked.Add(ref _expiredReaped, reaped);

                // The deletes were appended to the replication stream like a client's; send them now.
                Stream.Flush();
            }
        }
        finally
        {
            Volatile.Write(ref _reaping, 0);
        }
    }

    internal HelloReply DescribeForHello()
    {
        (NodeRole role, ulong epoch) = _role.Current;
        IReadOnlyList<MemoryRegion> chunks = Store.Regions;
        var regions = new RegionInfo[chunks.Count];
        for (int i = 0; i < regions.Length; i++)
        {
            regions[i] = new RegionInfo(chunks[i].RKey, chunks[i].Access, chunks[i].BaseAddress, chunks[i].Length);
        }

        return new HelloReply
        {
            Role = role,
            Epoch = epoch,
            Incarnation = Incarnation,
            SlabSize = (uint)Store.Options.SlabSize,
            MaxFrameSize = Options.MaxFrameSize,
            PeerEndPoint = role == NodeRole.Primary ? Volatile.Read(ref _secondaryEndPoint) : Options.PrimaryEndPoint,
            Regions = regions,
        };
    }

    // The last secondary's link has closed and its loss is not handled yet (the close is seen on the thread that
    // saw it, the next HELLO may come on another): attached now, the new secondary would take the stream and the
    // old link's loss would no longer be this node's to handle, so etcd would go on naming the old secondary in
    // sync (it could take over without the writes the new one acknowledged), and no probe would ask whether it is
    // gone. The loss is handled within moments; the joining secondary asks again.
    internal const string ClosingLinkRefusal = "the last secondary's link is closing; try again";

    // Why the stream's peer keeps a new secondary out, or null when it has none.
    private string? PeerRefusal() => Stream.Peer switch
    {
        null => null,
        { IsOpen: true } => "a secondary is already attached",
        _ => ClosingLinkRefusal,
    };

    internal bool CanAttachSecondary(IPEndPoint? advertised, out string? refusal)
    {
        if (Role == NodeRole.Fenced)
        {
            TryRevive(advertised);
        }

        refusal = Role != NodeRole.Primary ? $"this node is {Role}; a secondary attaches to the primary"
            : PeerRefusal() is { } attached ? attached
            : Volatile.Read(ref _clearingInSync) ? "the primary is recording in etcd that it goes on alone; try again"
            : _probing ? "the primary is asking whether its lost secondary is gone; try again"
            : null;
        return refusal is null;
    }

    /// <summary>Attaches a secondary: <paramref name="postHello"/> posts its HELLO reply (see <see cref="ReplicationStream.Attach"/>).</summary>
    internal void AttachSecondary(IConnection connection, IPEndPoint? advertised, IPEndPoint? advertisedResp, Action postHello)
    {
        // The stamp is taken before the HELLO reply leaves: the secondary hears it later, so its promotion
        // timer cannot start before the stamp, and the lease may run from it.
        long stamp = _lease.Stamp();

        // Touched before the secondary becomes the stream's peer: a heartbeat tick that sees the new peer with the
        // last frame of a peer of long ago would drop it at once as a silent joining secondary (seen in chaos, a
        // moment after a promotion, right as the old primary joined). Not while another is attached: an attach that
        // is refused must not hide that one's silence.
        if (Stream.Peer is null)
        {
            TouchPeer();
        }

        if (!Stream.Attach(connection, Epoch, postHello, out ulong attachedAt))
        {
            connection.Fail(WireStatus.NotPrimary, PeerRefusal() ?? "a secondary is already attached");
            return;
        }

        _waiters.Reset(attachedAt);
        _peerRole = NodeRole.Rejoining;
        _sentProtected = false;
        _loggedPausedSecondary = false;
        Volatile.Write(ref _inSyncLink, null);
        _lease.Limit(stamp);
        Volatile.Write(ref _secondaryEndPoint, advertised ?? connection.RemoteEndPoint as IPEndPoint);
        Volatile.Write(ref _secondaryRespEndPoint, advertisedResp);
        LogSecondaryAttached(advertised?.ToString() ?? connection.RemoteEndPoint.ToString() ?? "?", attachedAt);
    }

    internal void OnReplicateAck(IConnection connection, ReadOnlySpan<byte> payload)
    {
        if (ReplicateBatch.TryReadAck(payload, out ulong lsn, out _) != WireStatus.Ok)
        {
            connection.Fail(WireStatus.MalformedFrame, $"REPLICATE_ACK payload must be {ReplicateBatch.AckSize} bytes");
            return;
        }

        // Acks release held replies to clients: never after the lease ran out (a pause may sit between this
        // batch's start and here).
        if (CheckLease())
        {
            _waiters.Ack(lsn);
        }
    }

    /// <summary>
    /// Null while the secondary keeps up; once the oldest write waiting for its ack has waited longer than
    /// <see cref="NodeOptions.ReplicationBacklogLimit"/>, a task that completes when the secondary has applied every
    /// record written so far (or the wait ends otherwise: the primary fenced, or went on alone). A client connection
    /// that wrote holds its input until then, so that what stands in the stream ahead of a heartbeat stays well
    /// inside one lease of apply time. Checked once per batch: it takes the waiters' lock.
    /// </summary>
    internal Task? WhenBacklogApplied(IConnection connection)
    {
        if (Options.Replication != ReplicationMode.Sync || Stream.Peer is null || _waiters.OldestWait <= Options.ReplicationBacklogLimit)
        {
            return null;
        }

        var applied = new AckTurn(connection);
        return _waiters.TryWait(Stream.LastLsn, applied) ? applied.Due : null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "warming up the slab copy path failed (a later copy runs slower, nothing else changes)")]
    private partial void LogWarmUpFailed(Exception error);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Role} listening on {EndPoint}, max memory {MaxMemoryMiB} MiB ({RegisteredKiB} KiB registered so far, more as it fills)")]
    private partial void LogListening(NodeRole role, string endPoint, ulong maxMemoryMiB, ulong registeredKiB);

    [LoggerMessage(Level = LogLevel.Information, Message = "secondary {Secondary} attached at LSN {Lsn}: copying, then following the stream")]
    private partial void LogSecondaryAttached(string secondary, ulong lsn);
}
