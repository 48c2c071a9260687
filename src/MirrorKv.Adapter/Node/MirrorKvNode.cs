using System.Net;
using System.Security.Cryptography;
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
    private Timer? _heartbeats;
    private Timer? _guard;
    private Timer? _reaper;
    private readonly NodeTelemetry _telemetry;
    private long _lastPeerFrame = System.Diagnostics.Stopwatch.GetTimestamp();
    private volatile NodeRole _peerRole;
    private readonly ILogger _logger;
    private readonly RegionRegistry _registry = new();
    private readonly AckWaiters _waiters = new();
    private readonly RoleState _role;
    private readonly NodeFrameHandler _handler;
    private IListener? _listener;
    private ReplicaLink? _link;
    private IPEndPoint? _secondaryEndPoint;

    private MirrorKvNode(NodeOptions options, ILoggerFactory loggers)
    {
        Options = options;
        _logger = loggers.CreateLogger("MirrorKv.Node");
        // A secondary is Rejoining until it has attached and copied the primary's slabs: until then it holds
        // nothing to serve, so it refuses failover reads and never promotes itself.
        _role = new RoleState(options.Role == NodeRole.Secondary ? NodeRole.Rejoining : options.Role, options.Role == NodeRole.Primary ? 1UL : 0UL, _logger);
        Incarnation = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));

        // A secondary takes slabs from the top down, so its slab order (and so its deltas) differ from the primary's.
        StoreOptions storeOptions = options.Role == NodeRole.Secondary ? options.Store with { SlabOrder = SlabOrder.Descending } : options.Store;
        Store = new StoreEngine(storeOptions, AccessFlags.RemoteRead, Log);
        _registry.Register(Store.Region);
        var verbs = new VerbsEngine(_registry, () => Store.Translation?.Current);
        var ha = new HaModule(Store, _role, Log, _waiters, options.Replication, () => Volatile.Read(ref _secondaryEndPoint), OnNewerEpochSeen, Counters);
        _handler = new NodeFrameHandler(this, verbs, ha, _logger);
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
    public NodeRole Role => _role.Current.Role;

    /// <summary>Current epoch.</summary>
    public ulong Epoch => _role.Current.Epoch;

    /// <summary>
    /// True when a primary has a secondary that holds all of its data (attached and done copying), or a
    /// secondary has copied everything and is receiving the stream.
    /// </summary>
    public bool IsProtected => Role switch
    {
        NodeRole.Primary => Log.Peer is { IsOpen: true } && _peerRole == NodeRole.Secondary,
        NodeRole.Secondary => _link?.IsConnected ?? false,
        _ => false,
    };

    /// <summary>Primary: last LSN written. Secondary: last LSN applied.</summary>
    public ulong Lsn => Role == NodeRole.Primary ? Log.LastLsn : _link?.AppliedLsn ?? 0;

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

    internal ReplicationLog Log { get; } = new();

    internal NodeCounters Counters { get; } = new();

    /// <summary>Starts a node: allocates its region, listens, and for a secondary attaches to the primary.</summary>
    public static async Task<MirrorKvNode> StartAsync(NodeOptions options, ITransport transport, ILoggerFactory? loggers = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(transport);
        options.Validate();
        var node = new MirrorKvNode(options, loggers ?? NullLoggerFactory.Instance);
        try
        {
            node._listener = transport.Listen(options.ListenEndPoint, node._handler);
            node.LogListening(node.Role, node.EndPoint.ToString(), node.Store.Region.Length >> 20, node.Store.Region.RKey);
            if (options.Role == NodeRole.Secondary)
            {
                node._link = new ReplicaLink(node.Store, node._role, options, node.OnPrimaryLost, node._logger);
                await node._link.ConnectAsync(transport, node.AdvertisedEndPoint, cancellationToken).ConfigureAwait(false);
            }

            node.StartHeartbeats();
            node._guard = new Timer(static s => ((MirrorKvNode)s!)._handler.Sweep(), node, node.GuardPeriod, node.GuardPeriod);
            node._reaper = new Timer(static s => ((MirrorKvNode)s!).ReapExpired(), node, options.ExpiryReapInterval, options.ExpiryReapInterval);
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

        _role.TransitionTo(NodeRole.Stopped, Epoch, "shutting down");
        if (_listener is not null)
        {
            await _listener.DisposeAsync().ConfigureAwait(false);
        }

        _link?.Close();
        foreach (IConnection connection in _handler.OpenConnections)
        {
            connection.Abort(null);
        }

        _telemetry.Dispose();
        Store.Dispose();
    }

    // Timeouts are seconds long: checking a few times a second keeps them accurate without a timer per connection.
    private TimeSpan GuardPeriod => TimeSpan.FromTicks(Math.Min(Options.HandshakeTimeout.Ticks, Math.Min(Options.FrameTimeout.Ticks, Options.UnreadRepliesTimeout.Ticks)) / 4);

    /// <summary>Entries reclaimed because their expiry passed, since start.</summary>
    public long ExpiredEntriesReaped => Interlocked.Read(ref _expiredReaped);

    private long _expiredReaped;

    private void ReapExpired()
    {
        if (Role != NodeRole.Primary)
        {
            return;
        }

        int reaped = Store.ReapExpired(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), Options.ExpiryReapSlots);
        if (reaped > 0)
        {
            Interlocked.Add(ref _expiredReaped, reaped);

            // The deletes were appended to the replication log like a client's; send them now.
            Log.Flush();
        }
    }

    internal HelloReply DescribeForHello()
    {
        (NodeRole role, ulong epoch) = _role.Current;
        MemoryRegion region = Store.Region;
        return new HelloReply
        {
            Role = role,
            Epoch = epoch,
            Incarnation = Incarnation,
            SlabSize = (uint)Store.Options.SlabSize,
            MaxFrameSize = Options.MaxFrameSize,
            PeerEndpoint = role == NodeRole.Primary ? Volatile.Read(ref _secondaryEndPoint) : Options.PrimaryEndPoint,
            Regions = [new RegionInfo(region.RKey, region.Access, region.BaseAddress, region.Length)],
        };
    }

    internal bool CanAttachSecondary(out string? refusal)
    {
        refusal = Role != NodeRole.Primary ? $"this node is {Role}; a secondary attaches to the primary"
            : Log.Peer is { IsOpen: true } ? "a secondary is already attached"
            : null;
        return refusal is null;
    }

    internal void AttachSecondary(IConnection connection, IPEndPoint? advertised)
    {
        if (!Log.Attach(connection, Epoch, out ulong attachedAt))
        {
            connection.Fail(WireStatus.NotPrimary, "a secondary is already attached");
            return;
        }

        _waiters.Reset(attachedAt);
        _peerRole = NodeRole.Rejoining;
        TouchPeer();
        Volatile.Write(ref _secondaryEndPoint, advertised ?? connection.RemoteEndPoint as IPEndPoint);
        LogSecondaryAttached(advertised?.ToString() ?? connection.RemoteEndPoint.ToString() ?? "?", attachedAt);
    }

    internal void OnReplicateAck(IConnection connection, ReadOnlySpan<byte> payload)
    {
        if (ReplicateBatch.TryReadAck(payload, out ulong lsn, out _) != WireStatus.Ok)
        {
            connection.Fail(WireStatus.MalformedFrame, $"REPLICATE_ACK payload must be {ReplicateBatch.AckSize} bytes");
            return;
        }

        _waiters.Ack(lsn);
    }

    internal void OnSecondaryLost(IConnection connection, Exception? error)
    {
        if (Log.Detach(connection))
        {
            _waiters.ReleaseAll();
            LogSecondaryLost(error?.Message ?? "closed", Log.LastLsn);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Role} listening on {EndPoint}, region {RegionMiB} MiB, rkey 0x{RKey:x8}")]
    private partial void LogListening(NodeRole role, string endPoint, ulong regionMiB, uint rkey);

    [LoggerMessage(Level = LogLevel.Information, Message = "secondary {Secondary} attached at LSN {Lsn}: the pair is protected")]
    private partial void LogSecondaryAttached(string secondary, ulong lsn);

    [LoggerMessage(Level = LogLevel.Warning, Message = "secondary lost ({Reason}) at LSN {Lsn}: the pair is unprotected, writes are acknowledged by the primary alone")]
    private partial void LogSecondaryLost(string reason, ulong lsn);
}
