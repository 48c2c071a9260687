using System.Net;
using MirrorKv.Entries;
using MirrorKv.Protocol;
using MirrorKv.Store;

namespace MirrorKv.Adapter;

/// <summary>How one node runs. Immutable; <see cref="Validate"/> runs once when the node starts.</summary>
public sealed record NodeOptions
{
    /// <summary>Role at start: <see cref="NodeRole.Primary"/> or <see cref="NodeRole.Secondary"/>.</summary>
    public NodeRole Role { get; init; } = NodeRole.Primary;

    /// <summary>Where the adapter listens; port 0 picks a free one. Loopback by default: safe without authentication.</summary>
    public IPEndPoint ListenEndPoint { get; init; } = new(IPAddress.Loopback, 7400);

    /// <summary>For a secondary: the primary's endpoint, which it dials to receive the replication stream.</summary>
    public IPEndPoint? PrimaryEndPoint { get; init; }

    /// <summary>
    /// For a primary in pair mode: the pair's other node (<c>serve --peer</c>). Until a secondary attaches, the primary
    /// watches it as it watches a lost peer: two nodes started as primary at once, each finding the other not yet
    /// serving, end with one of them (the lower endpoint) moving above the other's epoch and telling it that it was
    /// replaced, so that it rejoins as secondary.
    /// </summary>
    public IPEndPoint? PeerEndPoint { get; init; }

    /// <summary>
    /// Where the node also serves RESP (redis clients: redis-cli, StackExchange.Redis, ...), on the same event
    /// loops, store and replication as its native port; null (the default) serves no RESP. See docs/resp.md.
    /// </summary>
    public IPEndPoint? RespListenEndPoint { get; init; }

    /// <summary>
    /// Where the node also answers as a redis Sentinel for its pair (SENTINEL get-master-addr-by-name and the
    /// rest, INFO with redis_mode:sentinel), so that redis clients configured with both nodes' sentinel ports
    /// find the primary's RESP port and follow a failover; null (the default): none. Needs
    /// <see cref="RespListenEndPoint"/>, the port it names. See docs/resp.md.
    /// </summary>
    public IPEndPoint? SentinelListenEndPoint { get; init; }

    /// <summary>
    /// Where clients should reach this node; defaults to the listen endpoint (with the real port). Set it when
    /// listening on 0.0.0.0 or behind an address translation.
    /// </summary>
    public IPEndPoint? AdvertisedEndPoint { get; init; }

    /// <summary>
    /// etcd as the pair's witness (leader key, epoch, the primary's etcd lease); null for pair mode. With it a
    /// secondary may leave <see cref="PrimaryEndPoint"/> unset (it asks etcd), and a node started as primary
    /// joins the leader etcd names instead when there is one.
    /// </summary>
    public CoordinatorOptions? Coordinator { get; init; }

    /// <summary>
    /// The pair's name: the service (master) name the RESP port's SENTINEL commands answer to. With a
    /// coordinator its <see cref="CoordinatorOptions.PairName"/> is the name. Default "default".
    /// </summary>
    public string PairName { get; init; } = "default";

    /// <summary>The name SENTINEL answers to: the coordinator's pair name when there is one.</summary>
    internal string EffectivePairName => Coordinator?.PairName ?? PairName;

    /// <summary>The store engine's options. A secondary takes its slabs top-down unless told otherwise.</summary>
    public StoreOptions Store { get; init; } = StoreOptions.Default;

    /// <summary>When writes are acknowledged.</summary>
    public ReplicationMode Replication { get; init; } = ReplicationMode.Sync;

    private readonly uint? _maxFrameSize;

    /// <summary>
    /// Largest frame accepted. By default <see cref="ProtocolLimits.DefaultMaxFrameSize"/> (see there for the reason),
    /// or more when the store's largest value needs it: a WRITE of that value, and its REPLICATE record on the peer
    /// link, must fit one frame (<see cref="LargestFrameFor"/>, rounded up to 64 KiB). Set explicitly, it also caps the
    /// store's value limit when <see cref="StoreOptions.MaxValueLength"/> is not given (<see cref="EffectiveStore"/>).
    /// </summary>
    public uint MaxFrameSize
    {
        get => _maxFrameSize ?? Math.Max(ProtocolLimits.DefaultMaxFrameSize, (uint)((LargestFrameFor(Store) + 0xFFFF) & ~0xFFFFL));
        init => _maxFrameSize = value;
    }

    /// <summary>
    /// The store's options as the node runs them: <see cref="Store"/>, with the value limit cut to what a frame of an
    /// explicitly set <see cref="MaxFrameSize"/> carries when <see cref="StoreOptions.MaxValueLength"/> is not given.
    /// </summary>
    public StoreOptions EffectiveStore =>
        Store.MaxValueLength is null && _maxFrameSize is { } frame && LargestFrameFor(Store) > frame
            ? Store with { MaxValueLength = (int)Math.Max(0, frame - FrameOverhead - Store.MaxKeyLength) }
            : Store;

    // Header, REPLICATE batch header and record header around a record's key and value: the largest of the frames
    // that carry a whole value (a WRITE has 16 + 32, a READ of a large slot 16 + the slot: less).
    private const long FrameOverhead = FrameHeader.Size + 16 + 40;

    /// <summary>The largest frame a store with these options needs: a REPLICATE record of its largest key and value.</summary>
    public static long LargestFrameFor(StoreOptions store)
    {
        ArgumentNullException.ThrowIfNull(store);
        return FrameOverhead + store.MaxKeyLength + store.EffectiveMaxValueLength;
    }

    /// <summary>
    /// How long a secondary keeps trying to reach the primary at start: 10 s covers the two processes being
    /// started in either order by a script, without hanging forever on a wrong address.
    /// </summary>
    public TimeSpan PrimaryConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a switchover waits for the secondary to confirm every write before it is abandoned and the
    /// primary serves again, when SWITCHOVER names no timeout: 5 s, far above a healthy pair's replication lag.
    /// </summary>
    public TimeSpan SwitchoverTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How often each node of a pair sends a HEARTBEAT to the other: 100 ms. A LAN round trip is well under
    /// 1 ms, so this costs ten small frames a second and bounds how long a silent peer goes unnoticed.
    /// </summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Heartbeat intervals of silence before a node acts: 5 (500 ms by default), enough to ride out a GC
    /// pause or a scheduling hiccup without false alarms. After that silence a primary stops taking writes
    /// (it may be cut off, and its secondary may be promoting); after twice that silence a secondary promotes
    /// itself, by which time the old primary has fenced itself. A reset connection needs no waiting: the
    /// peer's kernel said the process is gone.
    /// </summary>
    public int HeartbeatMisses { get; init; } = 5;

    /// <summary>
    /// Shared secret clients must prove in the handshake (HMAC-SHA256 challenge and response; it never
    /// crosses the wire). Null: clients are not authenticated, and the node should listen on loopback only.
    /// At least <see cref="AuthProof.MinSecretLength"/> bytes.
    /// </summary>
    public byte[]? Secret { get; init; }

    /// <summary>Secret of the peer link between the two nodes; defaults to <see cref="Secret"/>. Both nodes need the same one.</summary>
    public byte[]? PeerSecret { get; init; }

    /// <summary>The secret the peer link uses: <see cref="PeerSecret"/>, else <see cref="Secret"/>.</summary>
    public byte[]? EffectivePeerSecret => PeerSecret ?? Secret;

    /// <summary>
    /// Connections accepted at once: 1024. Past it a new connection gets TooManyConnections and is closed, so
    /// a flood of connections cannot exhaust memory or file descriptors (each costs about 50 KiB when idle).
    /// </summary>
    public int MaxConnections { get; init; } = 1024;

    /// <summary>
    /// Unsent reply bytes past which a client connection stops being read until it has read half of them:
    /// 1 MiB, a pipeline of a thousand 1 KiB values. Together with the frame limit this bounds a
    /// connection's memory at about 1 MiB + 3 × <see cref="MaxFrameSize"/>, however it misbehaves.
    /// </summary>
    public int SendQueueLimit { get; init; } = 1 << 20;

    /// <summary>
    /// Unsent replication bytes past which the primary stops reading new requests from clients until the
    /// secondary catches up: 64 MiB, well above any burst a healthy secondary leaves behind.
    /// </summary>
    public int PeerSendQueueLimit { get; init; } = 64 << 20;

    /// <summary>Time a new connection has to complete HELLO (and AUTH): 5 s, hundreds of round trips.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Time a frame may stay incomplete: 10 s. A 4 MiB frame takes under half a second even at 100 Mbit/s;
    /// a sender slower than that is stuck or hostile, and holds a receive buffer.
    /// </summary>
    public TimeSpan FrameTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Time a write to a client may wait for it to read its replies before the connection is dropped: 15 s.</summary>
    public TimeSpan UnreadRepliesTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How often a primary reclaims expired entries (values with a <see cref="ValueExpiry"/> prefix): every
    /// 100 ms it examines <see cref="ExpiryReapSlots"/> slots, resuming where it stopped. Readers check the
    /// time themselves, so this only bounds how long an expired entry keeps its memory.
    /// </summary>
    public TimeSpan ExpiryReapInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Slots examined per reap: 8192, well under a millisecond of the store's lock, so writes barely notice;
    /// a full pass over 4 million slots takes under a minute.
    /// </summary>
    public int ExpiryReapSlots { get; init; } = 8192;

    /// <summary>
    /// The clock of heartbeats, leases and timers: <see cref="TimeProvider.System"/> (the monotonic clock).
    /// Tests give a node one they can freeze, as a paused process's timers are.
    /// </summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>
    /// The epoch a node started as primary takes: 1. (A coordinator hands out higher ones; a node forced to
    /// be a new primary after a failover needs one above the pair's last.)
    /// </summary>
    public ulong InitialEpoch { get; init; } = 1;

    /// <summary>
    /// Silence after which a primary stops serving: its lease, <see cref="HeartbeatInterval"/> ×
    /// <see cref="HeartbeatMisses"/> (500 ms by default), counted from the primary's own clock reading that
    /// the secondary last echoed.
    /// </summary>
    public TimeSpan FenceAfter => HeartbeatInterval * HeartbeatMisses;

    /// <summary>How long a secondary's echo keeps a primary serving: <see cref="FenceAfter"/>.</summary>
    public TimeSpan LeaseDuration => FenceAfter;

    /// <summary>
    /// How far the secondary may fall behind, in time, before a sync primary stops reading its clients' input until
    /// the secondary applied everything written so far: <see cref="LeaseDuration"/> / 5 (100 ms by default), measured
    /// as the age of the oldest write waiting for its ack. Heartbeats travel in the replication stream behind the
    /// records before them, so the echo that renews the lease comes only once those are applied; bounding the
    /// backlog in bytes alone (<see cref="PeerSendQueueLimit"/>) let a burst of large values take longer to apply
    /// than the lease runs.
    /// </summary>
    public TimeSpan ReplicationBacklogLimit => LeaseDuration / 5;

    /// <summary>
    /// Silence after which a secondary promotes itself: twice <see cref="FenceAfter"/>. The margin (500 ms
    /// by default) is what keeps the two from serving at once: it holds as long as neither clock runs more
    /// than 2× faster than the other over one lease, and a pause of either process only makes it wider (see
    /// docs/failover.md).
    /// </summary>
    public TimeSpan PromoteAfter => FenceAfter * 2;

    /// <summary>
    /// With a coordinator: how long a secondary serves reads after its primary vouched for it over the peer link
    /// (READ_LEASE) or a read of etcd's in-sync key named it, counted from the secondary's clock reading before it
    /// asked: twice <see cref="HeartbeatInterval"/>, 200 ms by default. The primary waits twice this after clearing
    /// the name before it acknowledges a write alone, so it is added to the write stall of every fault that makes
    /// the primary go on alone.
    /// </summary>
    public TimeSpan InSyncReadLease => HeartbeatInterval * 2;

    /// <summary>
    /// With a coordinator: how often a secondary renews its read lease, a quarter of <see cref="InSyncReadLease"/>
    /// (50 ms): it asks its primary over the peer link each time (a frame each way), and reads etcd's in-sync key only
    /// when the last request got no grant within this interval (the link is down, the primary silent or no longer
    /// counting it in sync) or a quarter of the lease is left, so once the grants stop etcd has about three quarters
    /// of the lease to answer, a slow machine's scheduling delay included, before reads are refused.
    /// </summary>
    public TimeSpan InSyncReadCheck => InSyncReadLease / 4;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad option.</summary>
    public void Validate()
    {
        Store.Validate();
        if (Role is not (NodeRole.Primary or NodeRole.Secondary))
        {
            throw new ArgumentException($"Role must be primary or secondary; got {Role}.");
        }

        Coordinator?.Validate();
        if (SentinelListenEndPoint is not null && RespListenEndPoint is null)
        {
            throw new ArgumentException("A sentinel port (SentinelListenEndPoint, --sentinel-listen) names the pair's RESP ports to redis clients: give the RESP port too (RespListenEndPoint, --resp-listen).");
        }

        if (string.IsNullOrWhiteSpace(PairName) || PairName.Any(char.IsWhiteSpace))
        {
            throw new ArgumentException($"PairName must be a non-empty name without spaces (it is the Sentinel service name); got '{PairName}'.");
        }

        if (Coordinator is not null && (AdvertisedEndPoint ?? ListenEndPoint).Port == 0)
        {
            throw new ArgumentException("With a coordinator the node needs a fixed port (ListenEndPoint or AdvertisedEndPoint): etcd records where the primary is.");
        }

        if (Role == NodeRole.Secondary && PrimaryEndPoint is null && Coordinator is null)
        {
            throw new ArgumentException("A secondary needs the primary's endpoint (PrimaryEndPoint, --primary), or a coordinator to ask.");
        }

        if (Role == NodeRole.Primary && PrimaryEndPoint is not null)
        {
            throw new ArgumentException("PrimaryEndPoint (--primary) is for a secondary, and this node's role is primary (the default): give --role secondary with --primary, or leave --primary out.");
        }

        if (MaxFrameSize is < ProtocolLimits.MinMaxFrameSize or > ProtocolLimits.MaxMaxFrameSize)
        {
            throw new ArgumentException($"MaxFrameSize must be between {ProtocolLimits.MinMaxFrameSize} and {ProtocolLimits.MaxMaxFrameSize}; got {MaxFrameSize}.");
        }

        if (LargestFrameFor(EffectiveStore) > MaxFrameSize)
        {
            throw new ArgumentException($"MaxFrameSize ({MaxFrameSize}) is too small for the largest value (MaxValueLength {Store.EffectiveMaxValueLength}): a WRITE of it and its REPLICATE record need {LargestFrameFor(EffectiveStore)} bytes.");
        }

        if ((long)MaxFrameSize < (long)Store.SlabSize + 4096)
        {
            throw new ArgumentException($"MaxFrameSize ({MaxFrameSize}) must exceed the slab size ({Store.SlabSize}) so that any slot can be read and written in one frame.");
        }

        if (HeartbeatInterval < TimeSpan.FromMilliseconds(1) || HeartbeatInterval > TimeSpan.FromMinutes(1))
        {
            throw new ArgumentException($"HeartbeatInterval must be between 1 ms and 1 min; got {HeartbeatInterval}.");
        }

        if (HeartbeatMisses is < 2 or > 1000)
        {
            throw new ArgumentException($"HeartbeatMisses must be between 2 and 1000; got {HeartbeatMisses}.");
        }

        ArgumentNullException.ThrowIfNull(TimeProvider);
        if (InitialEpoch == 0)
        {
            throw new ArgumentException("InitialEpoch must be at least 1.");
        }

        if (PrimaryConnectTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("PrimaryConnectTimeout must be positive.");
        }

        if (Secret is { Length: < AuthProof.MinSecretLength } || PeerSecret is { Length: < AuthProof.MinSecretLength })
        {
            throw new ArgumentException($"A secret must have at least {AuthProof.MinSecretLength} bytes; got {Math.Min(Secret?.Length ?? int.MaxValue, PeerSecret?.Length ?? int.MaxValue)}.");
        }

        if (MaxConnections < 2)
        {
            throw new ArgumentException($"MaxConnections must be at least 2 (the peer and one client); got {MaxConnections}.");
        }

        if (SendQueueLimit < 64 * 1024 || PeerSendQueueLimit < 64 * 1024)
        {
            throw new ArgumentException($"SendQueueLimit and PeerSendQueueLimit must be at least 64 KiB; got {SendQueueLimit} and {PeerSendQueueLimit}.");
        }

        if (ExpiryReapInterval <= TimeSpan.Zero || ExpiryReapSlots < 1)
        {
            throw new ArgumentException($"ExpiryReapInterval must be positive and ExpiryReapSlots at least 1; got {ExpiryReapInterval} and {ExpiryReapSlots}.");
        }

        if (HandshakeTimeout <= TimeSpan.Zero || FrameTimeout <= TimeSpan.Zero || UnreadRepliesTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("HandshakeTimeout, FrameTimeout and UnreadRepliesTimeout must be positive.");
        }
    }
}
