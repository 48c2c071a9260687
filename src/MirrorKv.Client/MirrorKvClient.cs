using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using MirrorKv.Memory;
using MirrorKv.Protocol;
using MirrorKv.Transport;
using MirrorKv.Transport.Tcp;

namespace MirrorKv.Client;

/// <summary>
/// A client of a MirrorKv pair. Keeps a local table <c>key -> remote pointer</c>, reads values one-sided
/// with it, and goes on reading from the secondary when the primary fails, first with FAILOVER_READ and
/// then (by default) with a table rewritten from the secondary's translation. Thread-safe.
/// </summary>
public sealed partial class MirrorKvClient : IAsyncDisposable
{
    private const int MaxReadAttempts = 16;

    private readonly MirrorKvClientOptions _options;
    private readonly Microsoft.Extensions.Logging.ILogger _logger;
    private readonly ITransport _transport;
    private readonly EndPointBook _book;
    private readonly ConnectionHealth _health;
    private readonly bool _ownsHealth;
    private readonly PointerTable _table = new();
    private readonly Stack<KeyBatch> _keyBatches = new();
    private readonly Lock _pathLock = new();
    private volatile NodeChannel _primary = null!;
    private volatile NodeChannel? _secondary;
    private Task<NodeChannel?> _secondaryConnect = Task.FromResult<NodeChannel?>(null);
    private IPEndPoint? _secondaryEndPoint;
    private byte[] _secondaryEndPointBytes = KvReply.EncodeEndPoint(null);
    private volatile ClientPath _path = ClientPath.Primary;
    private Task _failover = Task.CompletedTask;
    private ulong _epoch;
    private int _translationDeltas;
    private long _promotionsFollowed;
    private long _reads, _failoverReads, _lookups, _tornRetries, _retriedAfterFailure, _tableRewrites, _rewrittenPointers;

    private MirrorKvClient(MirrorKvClientOptions options)
    {
        _options = options;
        _logger = options.LoggerFactory?.CreateLogger("MirrorKv.Client") ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        _transport = options.Transport ?? new TcpTransport();
        _book = new EndPointBook(options.AllEndPoints());
        _hedgeDelay = new HedgeDelayEstimator(options);
        _ownsHealth = options.Health is null;
        _health = options.Health ?? new ConnectionHealth(MirrorKvEndPoints.Format(options.AllEndPoints()));
        if (_ownsHealth)
        {
            _health.Register();
        }
    }

    /// <summary>Raised when reads move to another path (on a thread-pool thread).</summary>
    public event Action<ClientPath>? PathChanged;

    /// <summary>Raised after the local table was rewritten from a translation: pointers rewritten, distinct slab deltas.</summary>
    public event Action<long, int>? TableRewritten;

    /// <summary>Where reads go now.</summary>
    public ClientPath Path => _path;

    /// <summary>The epoch of the primary this client writes to.</summary>
    public ulong Epoch => _primary.Hello.Epoch;

    /// <summary>How many times the client moved its writes to a promoted secondary.</summary>
    public long PromotionsFollowed => Interlocked.Read(ref _promotionsFollowed);

    /// <summary>The endpoint writes go to now.</summary>
    public System.Net.IPEndPoint PrimaryEndPoint => _primary.EndPoint;

    /// <summary>Entries in the local pointer table.</summary>
    public int CachedPointers => _table.Count;

    /// <summary>The secondary's endpoint, when known.</summary>
    public IPEndPoint? SecondaryEndPoint => _secondaryEndPoint;

    /// <summary>What the client has done so far.</summary>
    public ClientStats Stats => new(
        Interlocked.Read(ref _reads), Interlocked.Read(ref _failoverReads), Interlocked.Read(ref _lookups), Interlocked.Read(ref _tornRetries),
        Interlocked.Read(ref _retriedAfterFailure), Interlocked.Read(ref _tableRewrites), Interlocked.Read(ref _rewrittenPointers), Volatile.Read(ref _translationDeltas))
    {
        HedgedReads = Interlocked.Read(ref _hedgedReads),
        HedgeWins = Interlocked.Read(ref _hedgeWins),
    };

    /// <summary>
    /// Connects to the pair: asks the configured endpoints (any order; host names resolved) who the primary is,
    /// follows a secondary that names it, and connects to the primary's secondary in the background. Waits up
    /// to <see cref="MirrorKvClientOptions.PromotionWait"/> while nodes answer but none is primary yet (a
    /// promotion under way).
    /// </summary>
    /// <exception cref="MirrorKvException">
    /// No node answers, or none became primary in time (<see cref="MirrorKvError.Unavailable"/>, naming what
    /// each endpoint answered); or the nodes refused the secret (<see cref="MirrorKvError.AuthenticationFailed"/>).
    /// </exception>
    public static async Task<MirrorKvClient> ConnectAsync(MirrorKvClientOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var client = new MirrorKvClient(options);
        try
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, client._disposed.Token);
            await client.DiscoverAsync(initial: true, linked.Token).ConfigureAwait(false);
        }
        catch
        {
            client._disposed.Dispose();
            if (client._ownsHealth)
            {
                client._health.Unregister();
            }

            throw;
        }

        return client;
    }

    /// <summary>
    /// Waits until the connection to the secondary is up (it is made in the background, and made again after a
    /// failure with the client's reconnect backoff). False when the primary names no secondary, or when none of
    /// the attempts within <see cref="MirrorKvClientOptions.PromotionWait"/> succeeded.
    /// </summary>
    public async Task<bool> WaitForSecondaryAsync(CancellationToken cancellationToken = default)
    {
        long started = Stopwatch.GetTimestamp();
        while (true)
        {
            if (await _secondaryConnect.WaitAsync(cancellationToken).ConfigureAwait(false) is { IsHealthy: true })
            {
                return true;
            }

            // One failed attempt says little on a loaded host (a handshake past ConnectTimeout): the warm standby
            // path tries again, so wait for those attempts too, up to the time a failover is given.
            IPEndPoint? endPoint = _secondaryEndPoint;
            if (endPoint is null || Stopwatch.GetElapsedTime(started) >= _options.PromotionWait)
            {
                return false;
            }

            KeepSecondaryWarm(endPoint);
            await Task.Delay(TimeSpan.FromMilliseconds(20), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Asks the node this client writes to (its primary) for its role, epoch, LSNs and whether the pair is
    /// protected, over the connection the client already has. Health checks use it.
    /// </summary>
    /// <exception cref="MirrorKvException">The primary cannot be reached (<see cref="MirrorKvError.Unavailable"/>).</exception>
    public Task<Protocol.NodeStatus> GetPrimaryStatusAsync(CancellationToken cancellationToken = default) =>
        StatusAsync(_primary, "primary", cancellationToken);

    /// <summary>As <see cref="GetPrimaryStatusAsync"/>, for the secondary this client knows (reads go there after a failover).</summary>
    /// <exception cref="MirrorKvException">No secondary is known or it cannot be reached (<see cref="MirrorKvError.Unavailable"/>).</exception>
    public Task<Protocol.NodeStatus> GetSecondaryStatusAsync(CancellationToken cancellationToken = default) =>
        StatusAsync(_secondary, "secondary", cancellationToken);

    private static async Task<Protocol.NodeStatus> StatusAsync(NodeChannel? channel, string which, CancellationToken cancellationToken)
    {
        if (channel is null || !channel.IsHealthy)
        {
            throw new MirrorKvException(MirrorKvError.Unavailable, $"the {which} {channel?.EndPoint.ToString() ?? "(none known)"} is unreachable");
        }

        PendingOperation op = channel.Rent();
        try
        {
            channel.PostStatus(op);
            await op.AsValueTask().AsTask().WaitAsync(cancellationToken).ConfigureAwait(false);
            return op.Status == Protocol.WireStatus.Ok && Protocol.NodeStatus.TryRead(op.Payload, out Protocol.NodeStatus? status) == Protocol.WireStatus.Ok
                ? status!
                : throw new MirrorKvException(MirrorKvError.Protocol, $"{channel.EndPoint} answered STATUS with {op.Status}", op.Status);
        }
        catch (Transport.ConnectionClosedException e)
        {
            throw new MirrorKvException(MirrorKvError.Unavailable, $"the {which} {channel.EndPoint} is unreachable", Protocol.WireStatus.Ok, e);
        }
        finally
        {
            channel.Return(op);
        }
    }

    /// <summary>Closes both connections and stops looking for a primary.</summary>
    public async ValueTask DisposeAsync()
    {
        await _disposed.CancelAsync().ConfigureAwait(false);
        _hedgeTimer.Dispose();
        if (_ownsHealth)
        {
            _health.Unregister();
        }
        else
        {
            _health.Lost();
        }

        await _primary.DisposeAsync().ConfigureAwait(false);
        NodeChannel? secondary = _secondary;
        if (secondary is not null)
        {
            await secondary.DisposeAsync().ConfigureAwait(false);
        }
    }

    // Counts READs sent (a batch counts its READs and FAILOVER_READs once each, not once per key).
    private void CountRead(Opcode opcode, int count = 1)
    {
        if (count == 0)
        {
            return;
        }

        if (opcode == Opcode.FailoverRead)
        {
            Interlocked.Add(ref _failoverReads, count);
            MirrorKvTelemetry.FailoverReads.Add(count);
        }
        else
        {
            Interlocked.Add(ref _reads, count);
            MirrorKvTelemetry.Reads.Add(count);
        }
    }

    private bool TryGetCached(string key, out CachedPointer cached)
    {
        return _table.TryGet(key, out cached);
    }

    private void Remember(string key, in CachedPointer pointer)
    {
        _table.Set(key, pointer);
    }

    // Forgets a pointer that went stale, unless a newer one was learned meanwhile.
    private void Forget(string key, in CachedPointer stale)
    {
        _table.TryReplace(key, stale, default);
    }

    private void StartSecondaryConnect()
    {
        IPEndPoint? endPoint = _secondaryEndPoint;
        if (endPoint is null)
        {
            return;
        }

        _secondaryConnect = ConnectSecondaryAsync(endPoint);
    }

    private async Task<NodeChannel?> ConnectSecondaryAsync(IPEndPoint endPoint)
    {
        try
        {
            NodeChannel channel = await NodeChannel.ConnectAsync(_transport, endPoint, NodeChannelOptions.For(_options), OnChannelFailure, _disposed.Token).ConfigureAwait(false);
            bool kept;
            lock (_pathLock)
            {
                // The secondary may have changed while this connected (a write reply named another, or a promotion).
                kept = endPoint.Equals(_secondaryEndPoint) && !_disposed.IsCancellationRequested;
                if (kept)
                {
                    _secondary = channel;
                    _secondaryRetries = 0;
                }
            }

            if (!kept)
            {
                await channel.DisposeAsync().ConfigureAwait(false);
                return null;
            }

            return channel;
        }
        catch (Exception e) when (e is MirrorKvException or IOException or TimeoutException or System.Net.Sockets.SocketException or OperationCanceledException or Transport.ConnectionClosedException)
        {
            KeepSecondaryWarm(endPoint);
            return null;
        }
    }

    private void OnChannelFailure(NodeChannel channel)
    {
        if (channel != _primary)
        {
            if (channel == _secondary)
            {
                KeepSecondaryWarm(channel.EndPoint);
            }

            return;
        }

        lock (_pathLock)
        {
            if (_path != ClientPath.Primary)
            {
                return;
            }

            _path = ClientPath.FailingOver;
            _failover = Task.Run(() => FailOverAsync(channel));
        }

        _health.Lost();
        AwaitProtection();
        MirrorKvTelemetry.Failovers.Add(1);
        LogFailingOver(channel.EndPoint.ToString(), _secondaryEndPoint?.ToString() ?? "(none known)");
        PathChanged?.Invoke(ClientPath.FailingOver);
    }

    private async Task FailOverAsync(NodeChannel failed)
    {
        RegionInfo failedRegion = failed.Region;
        NodeChannel? secondary = _secondary is { IsHealthy: true } s ? s : await _secondaryConnect.ConfigureAwait(false);
        if (secondary is null && _secondaryEndPoint is not null)
        {
            _secondaryConnect = ConnectSecondaryAsync(_secondaryEndPoint);
            secondary = await _secondaryConnect.ConfigureAwait(false);
        }

        // A write may already have followed the promotion (it polls every 10 ms): then the old secondary is
        // the primary now, and it still holds the translation of the failed primary's pointers.
        if (secondary is null && _primary is { IsHealthy: true } adopted && adopted.Region.RKey != failedRegion.RKey)
        {
            secondary = adopted;
        }

        for (int attempt = 0; attempt < 2 && secondary is not null && _options.RewriteTableOnFailover; attempt++)
        {
            try
            {
                await RewriteTableAsync(secondary, failed).ConfigureAwait(false);
                bool changed = false;
                lock (_pathLock)
                {
                    // A promotion may have been followed meanwhile: then the path is Primary again and stays so.
                    if (_path == ClientPath.FailingOver)
                    {
                        _path = ClientPath.Secondary;
                        changed = true;
                    }
                }

                if (changed)
                {
                    PathChanged?.Invoke(ClientPath.Secondary);
                }

                return;
            }
            catch (Exception e) when (e is MirrorKvException or ObjectDisposedException or Transport.ConnectionClosedException)
            {
                // Following a promotion retires the old channel to the secondary; the promoted node keeps the
                // translation, so ask it through the new primary channel. Otherwise reads go on as
                // FAILOVER_READ: the rewrite is an optimisation, not a requirement.
                NodeChannel current = _primary;
                secondary = current.IsHealthy && current.Region.RKey != failedRegion.RKey ? current : null;
            }
        }
    }

    // One TRANSLATION per region of the failed primary this client has seen (a node registers memory in chunks,
    // each with its rkey), all into one table: every pointer into any of them is rewritten through its slab's pair.
    private async Task RewriteTableAsync(NodeChannel secondary, NodeChannel failed)
    {
        IReadOnlyList<uint> primaryRKeys = failed.RKeys.ToList();
        TranslationTable? table = null;
        foreach (uint primaryRKey in primaryRKeys)
        {
            PendingOperation op = secondary.Rent();
            try
            {
                secondary.PostTranslation(op, primaryRKey);
                await op.AsValueTask().ConfigureAwait(false);
                if (op.Status == WireStatus.NoTranslation)
                {
                    // A region the secondary does not mirror holds no acknowledged entry: its pointers are forgotten below.
                    continue;
                }

                if (op.Status != WireStatus.Ok || TranslationMessages.TryReadReply(op.Payload, out uint localRKey, out uint slabSize, out SlabMapping[] mappings) != WireStatus.Ok)
                {
                    throw new MirrorKvException(MirrorKvError.Protocol, $"TRANSLATION failed: {op.Status}: {ErrorText.Read(op.Payload)}", op.Status);
                }

                table ??= new TranslationTable((int)slabSize);
                if (mappings.Length == 0)
                {
                    continue;
                }

                // Region bases are multiples of the slab size (docs/protocol.md), so the mapped slabs' span, from
                // the lowest pair to the highest, is a region as good as the real one for translating: a pointer
                // outside it lies in a slab with no pair, which the secondary has no entry of.
                ulong low = mappings[0].PrimarySlabBase, high = mappings[^1].PrimarySlabBase + slabSize;
                table.MapRegion(primaryRKey, low, high - low, localRKey);
                foreach (SlabMapping m in mappings)
                {
                    table.MapSlab(primaryRKey, m.PrimarySlabBase, m.LocalSlabBase);
                }

                secondary.RKeys.Add(localRKey);
            }
            finally
            {
                secondary.Return(op);
            }
        }

        TranslationSnapshot snapshot = table?.Current ?? TranslationSnapshot.Empty(1);
        Volatile.Write(ref _translationDeltas, snapshot.CountDistinctDeltas());
        long rewritten = _table.RewriteAll(cached =>
        {
            if (!failed.Owns(cached.Pointer.RKey))
            {
                return null;
            }

            // A slab the secondary has not seen cannot hold an acknowledged entry: forget the pointer.
            return snapshot.TryTranslate(cached.Pointer, out RemotePointer local) == TranslationStatus.Ok ? cached with { Pointer = local } : default(CachedPointer);
        });

        Interlocked.Increment(ref _tableRewrites);
        Interlocked.Add(ref _rewrittenPointers, rewritten);
        MirrorKvTelemetry.RewrittenPointers.Add(rewritten);
        LogTableRewritten(rewritten, snapshot.CountDistinctDeltas());
        TableRewritten?.Invoke(rewritten, snapshot.CountDistinctDeltas());
    }
}
