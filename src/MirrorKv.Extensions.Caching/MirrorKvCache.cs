using System.Buffers;
using System.Diagnostics.Metrics;
using System.Net;
using MirrorKv.Client;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MirrorKv.Extensions.Caching;

/// <summary>
/// <see cref="IDistributedCache"/> and <see cref="IBufferDistributedCache"/> over a MirrorKv pair or a cluster of
/// pairs: reads are one-sided reads through the client's pointer table, writes are sync-replicated, and a lost
/// primary is handled by the client's failover. The endpoints are taken the same way for both: the cache connects
/// through <see cref="MirrorKvClusterClient"/>, which asks the nodes for the cluster map and, when they serve a single
/// pair, runs one <see cref="MirrorKvClient"/> for it; over a cluster each key goes to the pair that owns its hash
/// slot. <see cref="Microsoft.Extensions.Caching.Hybrid"/>'s HybridCache uses it as its L2 as soon as it is
/// registered as <see cref="IDistributedCache"/>.
/// </summary>
/// <remarks>
/// Expiration is stored in the entry (<see cref="CacheEntryHeader"/>): a read checks it against this
/// process's clock, a sliding entry's deadline moves on every read (a write), and the primary reclaims
/// expired entries in the background. Node and application clocks should be kept in sync (NTP): skew
/// shifts when the primary reclaims an entry, not what readers see. The synchronous methods block on the
/// asynchronous ones; prefer the asynchronous ones.
/// </remarks>
public sealed partial class MirrorKvCache : IBufferDistributedCache, IAsyncDisposable, IDisposable
{
    private readonly MirrorKvCacheOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ILoggerFactory? _loggers;
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private readonly byte[]? _secret;
    private readonly IReadOnlyList<EndPoint> _endPoints;
    private readonly string _endPointsText;
    private readonly CacheUnavailableBehavior _whenUnavailable;
    private readonly string? _misconfigured;
    private readonly ConnectionHealth _health;
    private MirrorKvClusterClient? _client;
    private long _retryAfter;
    private MirrorKvException? _lastFailure;

    /// <summary>
    /// Creates the cache; it connects on first use (or at the host's start, through the hosted service that
    /// <see cref="MirrorKvCacheServiceCollectionExtensions.AddMirrorKvCache(Microsoft.Extensions.DependencyInjection.IServiceCollection, Microsoft.Extensions.Configuration.IConfiguration)"/> adds).
    /// A bad setting is logged here and makes every call miss; under <see cref="CacheUnavailableBehavior.Fail"/> it throws.
    /// </summary>
    /// <exception cref="OptionsValidationException">A setting is bad and <see cref="MirrorKvCacheOptions.WhenUnavailable"/> is Fail.</exception>
    public MirrorKvCache(IOptions<MirrorKvCacheOptions> options, TimeProvider? time = null, ILoggerFactory? loggers = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _time = time ?? TimeProvider.System;
        _loggers = loggers;
        _logger = loggers?.CreateLogger<MirrorKvCache>() ?? (ILogger)NullLogger.Instance;
        List<string> problems = MirrorKvCacheOptionsValidator.FindProblems(_options, out _endPoints, out _secret);
        _endPointsText = MirrorKvEndPoints.Format(_endPoints);

        // Reported from now on, not from the first connection: a cache that cannot connect shows as disconnected.
        _health = new ConnectionHealth(_endPointsText);
        _health.Register();
        _whenUnavailable = _options.InvalidWhenUnavailable is null && Enum.IsDefined(_options.WhenUnavailable) ? _options.WhenUnavailable : CacheUnavailableBehavior.Miss;
        if (problems.Count > 0 && _whenUnavailable == CacheUnavailableBehavior.Fail)
        {
            throw new OptionsValidationException(nameof(MirrorKvCacheOptions), typeof(MirrorKvCacheOptions), problems);
        }

        ConfigurationProblems = problems;
        foreach (string problem in problems)
        {
            LogMisconfigured(problem);
        }

        // A bad WhenUnavailable alone still lets the cache work (under Miss); anything else leaves it nothing to connect with.
        string[] blocking = [.. problems.Where(p => !p.StartsWith("MirrorKv:WhenUnavailable", StringComparison.Ordinal))];
        _misconfigured = blocking.Length == 0 ? null : string.Join(" ", blocking);
    }

    /// <summary>The bad settings found at start, each naming the setting to change; empty when all is well.</summary>
    public IReadOnlyList<string> ConfigurationProblems { get; }

    /// <summary>
    /// The pair's client, once connected to the nodes of a single pair; null before the first call, while
    /// unreachable, and over a cluster (whose pairs' clients <see cref="ClusterClient"/> holds).
    /// </summary>
    public MirrorKvClient? Client => Volatile.Read(ref _client) is { IsCluster: false } single ? single.ClientFor(string.Empty) : null;

    /// <summary>
    /// The client the cache runs on, once connected: a cluster's (<see cref="MirrorKvClusterClient.IsCluster"/>) or,
    /// given a single pair's nodes, a shell over that pair's client. Null before the first call or while unreachable.
    /// </summary>
    public MirrorKvClusterClient? ClusterClient => Volatile.Read(ref _client);

    /// <summary>Connects now rather than on the first call (for health checks and warm-up).</summary>
    public async ValueTask<MirrorKvClusterClient> ConnectAsync(CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _client) is { } ready)
        {
            return ready;
        }

        if (_misconfigured is not null)
        {
            throw new MirrorKvException(MirrorKvError.Unavailable, $"the MirrorKv cache is not configured: {_misconfigured}");
        }

        if (_time.GetTimestamp() < Volatile.Read(ref _retryAfter) && Volatile.Read(ref _lastFailure) is { } last)
        {
            // The same error as the attempt moments ago (a refused secret stays a refused secret), without a new attempt.
            throw new MirrorKvException(last.Error, $"{last.Message} (moments ago; next attempt within {_options.ReconnectDelay.TotalSeconds:F1} s)", last.WireStatus, last);
        }

        await _connectLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_client is { } raced)
            {
                return raced;
            }

            // A cluster or a single pair: the cluster client tells them apart by the nodes' answer to CLUSTER_MAP.
            MirrorKvClusterClient client = await MirrorKvClusterClient.ConnectAsync(
                new MirrorKvClientOptions
                {
                    EndPoints = _endPoints,
                    Secret = _secret,
                    ConnectTimeout = _options.ConnectTimeout,
                    RequestTimeout = _options.RequestTimeout,
                    LoggerFactory = _loggers,
                    Health = _health,
                },
                cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _client, client);
            return client;
        }
        catch (MirrorKvException e) when (e.Error == MirrorKvError.AuthenticationFailed)
        {
            throw Failed(new MirrorKvException(MirrorKvError.AuthenticationFailed, e.WireStatus == Protocol.WireStatus.AuthRequired
                ? $"the MirrorKv pair at {_endPointsText} requires a secret and this application has none: set {MirrorKvCacheOptionsValidator.SecretSetting}"
                : $"the MirrorKv pair at {_endPointsText} refused this application's secret: set {MirrorKvCacheOptionsValidator.SecretSetting} to the pair's client secret ({e.Message})", e.WireStatus, e));
        }
        catch (MirrorKvException e) when (e.Error == MirrorKvError.Unavailable)
        {
            throw Failed(e);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or TimeoutException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw Failed(new MirrorKvException(MirrorKvError.Unavailable, $"cannot reach the pair at {_endPointsText}: {e.Message}", Protocol.WireStatus.Ok, e));
        }
        finally
        {
            _connectLock.Release();
        }
    }

    // Calls go straight to WhenUnavailable for ReconnectDelay after a failed attempt: one attempt a second, not one per call.
    private MirrorKvException Failed(MirrorKvException e)
    {
        Volatile.Write(ref _lastFailure, e);
        Volatile.Write(ref _retryAfter, _time.GetTimestamp() + (long)(_options.ReconnectDelay.TotalSeconds * _time.TimestampFrequency));
        return e;
    }

    /// <inheritdoc />
    public byte[]? Get(string key) => GetAsync(key).GetAwaiter().GetResult();

    /// <inheritdoc />
    public async Task<byte[]?> GetAsync(string key, CancellationToken token = default)
    {
        var writer = new ArrayBufferWriter<byte>();
        return await TryGetAsync(key, writer, token).ConfigureAwait(false) ? writer.WrittenSpan.ToArray() : null;
    }

    /// <inheritdoc />
    public bool TryGet(string key, IBufferWriter<byte> destination) => TryGetAsync(key, destination).AsTask().GetAwaiter().GetResult();

    /// <inheritdoc />
    public async ValueTask<bool> TryGetAsync(string key, IBufferWriter<byte> destination, CancellationToken token = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(destination);
        ArrayBufferWriter<byte> stored = RentWriter();
        try
        {
            CacheEntryHeader header;
            try
            {
                MirrorKvClusterClient client = await ConnectAsync(token).ConfigureAwait(false);
                if (!await client.TryGetAsync(StoreKey(key), stored, token).ConfigureAwait(false))
                {
                    return false;
                }

                if (!CacheEntryHeader.TryRead(stored.WrittenSpan, out header))
                {
                    // Not written by this cache (another tool shares the key space): not ours to return.
                    LogForeignEntry(key);
                    return false;
                }

                long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
                if (header.DeadlineUnixMs <= now)
                {
                    // Expired: reclaim it now rather than wait for the primary's sweep.
                    await client.DeleteAsync(StoreKey(key), token).ConfigureAwait(false);
                    return false;
                }

                if (header.IsSliding)
                {
                    await RewriteAsync(client, key, header.Touched(now), stored.WrittenMemory[CacheEntryHeader.Size..], token).ConfigureAwait(false);
                }
            }
            catch (MirrorKvException e) when (_whenUnavailable == CacheUnavailableBehavior.Miss)
            {
                LogMiss("read", key, e);
                return false;
            }

            destination.Write(stored.WrittenSpan[CacheEntryHeader.Size..]);
            return true;
        }
        finally
        {
            ReturnWriter(stored);
        }
    }

    /// <inheritdoc />
    public void Set(string key, byte[] value, DistributedCacheEntryOptions options) => SetAsync(key, value, options).GetAwaiter().GetResult();

    /// <inheritdoc />
    public Task SetAsync(string key, byte[] value, DistributedCacheEntryOptions options, CancellationToken token = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        return SetAsync(key, new ReadOnlySequence<byte>(value), options, token).AsTask();
    }

    /// <inheritdoc />
    public void Set(string key, ReadOnlySequence<byte> value, DistributedCacheEntryOptions options) => SetAsync(key, value, options).AsTask().GetAwaiter().GetResult();

    /// <inheritdoc />
    public async ValueTask SetAsync(string key, ReadOnlySequence<byte> value, DistributedCacheEntryOptions options, CancellationToken token = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(options);
        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        long absolute = options.AbsoluteExpiration?.ToUnixTimeMilliseconds()
            ?? (options.AbsoluteExpirationRelativeToNow is { } relative ? now + (long)relative.TotalMilliseconds : long.MaxValue);
        if (absolute <= now)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.AbsoluteExpiration, "The absolute expiration must be in the future.");
        }

        long sliding = options.SlidingExpiration is { } window ? Math.Max(1, (long)window.TotalMilliseconds) : 0;
        try
        {
            MirrorKvClusterClient client = await ConnectAsync(token).ConfigureAwait(false);
            await WriteAsync(client, key, CacheEntryHeader.Create(now, absolute, sliding), value, token).ConfigureAwait(false);
        }
        catch (MirrorKvException e) when (e.Error == MirrorKvError.ValueTooLarge && _whenUnavailable == CacheUnavailableBehavior.Miss)
        {
            ValuesNotCached.Add(1, new KeyValuePair<string, object?>("reason", "too_large"));
            LogTooLarge(key, value.Length, e.Message);
        }
        catch (MirrorKvException e) when (e.Error == MirrorKvError.OutOfMemory)
        {
            // A cache that cannot store an entry misses it, as a cache that evicted it would; the older value a
            // failed write leaves in place is removed, so that a later read misses rather than returns it.
            LogStoreFull(key, value.Length, e.Message);
            await RemoveAsync(key, token).ConfigureAwait(false);
        }
        catch (MirrorKvException e) when (_whenUnavailable == CacheUnavailableBehavior.Miss)
        {
            LogMiss("write", key, e);
        }
    }

    /// <inheritdoc />
    public void Refresh(string key) => RefreshAsync(key).GetAwaiter().GetResult();

    /// <inheritdoc />
    public async Task RefreshAsync(string key, CancellationToken token = default)
    {
        // A read moves a sliding deadline; nothing else is needed.
        _ = await TryGetAsync(key, NullBufferWriter.Instance, token).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public void Remove(string key) => RemoveAsync(key).GetAwaiter().GetResult();

    /// <inheritdoc />
    public async Task RemoveAsync(string key, CancellationToken token = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        try
        {
            MirrorKvClusterClient client = await ConnectAsync(token).ConfigureAwait(false);
            await client.DeleteAsync(StoreKey(key), token).ConfigureAwait(false);
        }
        catch (MirrorKvException e) when (_whenUnavailable == CacheUnavailableBehavior.Miss)
        {
            LogMiss("remove", key, e);
        }
    }

    /// <summary>Connects now and logs why not, without throwing: what the host's start runs.</summary>
    internal async Task WarmUpAsync()
    {
        if (_misconfigured is not null)
        {
            return;
        }

        try
        {
            await ConnectAsync().ConfigureAwait(false);
        }
        catch (MirrorKvException e)
        {
            LogConnectFailed(e.Error, e.Message);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _client, null) is { } client)
        {
            await client.DisposeAsync().ConfigureAwait(false);
        }

        _health.Unregister();
        _connectLock.Dispose();
    }

    /// <inheritdoc />
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    // One reusable buffer per thread for the stored bytes (header + value) of a read.
    private static ArrayBufferWriter<byte> RentWriter()
    {
        ArrayBufferWriter<byte>? writer = t_writer;
        t_writer = null;
        return writer ?? new ArrayBufferWriter<byte>(256);
    }

    private static void ReturnWriter(ArrayBufferWriter<byte> writer)
    {
        if (writer.Capacity <= 64 * 1024)
        {
            writer.ResetWrittenCount();
            t_writer = writer;
        }
    }

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_writer;

    // In the client's meter (the same name), so that one AddMeter("MirrorKv") covers the cache too.
    private static readonly Meter CacheMeter = new(MirrorKvTelemetry.Name);

    private static readonly Counter<long> ValuesNotCached = CacheMeter.CreateCounter<long>(
        "mirrorkv.cache.values_not_cached", "{entry}", "Cache writes dropped under WhenUnavailable = Miss because the pair refused the value (reason: too_large).");

    private static readonly Counter<long> UnavailableCalls = CacheMeter.CreateCounter<long>(
        "mirrorkv.cache.unavailable_calls", "{call}", "Cache calls answered as a miss under WhenUnavailable = Miss because the pair could not answer (no node serves, a refused secret, a bad setting); error.type says which.");

    private string StoreKey(string key) => _options.KeyPrefix.Length == 0 ? key : _options.KeyPrefix + key;

    private Task RewriteAsync(MirrorKvClusterClient client, string key, CacheEntryHeader header, ReadOnlyMemory<byte> payload, CancellationToken token) =>
        WriteAsync(client, key, header, new ReadOnlySequence<byte>(payload), token).AsTask();

    private async ValueTask WriteAsync(MirrorKvClusterClient client, string key, CacheEntryHeader header, ReadOnlySequence<byte> payload, CancellationToken token)
    {
        int length = checked(CacheEntryHeader.Size + (int)payload.Length);
        byte[] entry = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            header.Write(entry);
            payload.CopyTo(entry.AsSpan(CacheEntryHeader.Size));
            await client.SetAsync(StoreKey(key), entry.AsMemory(0, length), token).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(entry);
        }
    }

    // Errors a cache user must fix (a refused secret, a bad setting) are errors; an outage is a warning.
    private void LogMiss(string operation, string key, MirrorKvException e)
    {
        UnavailableCalls.Add(1, _health.Tag, new KeyValuePair<string, object?>("db.operation.name", operation), new KeyValuePair<string, object?>("error.type", e.Error.ToString()));
        if (e.Error is MirrorKvError.AuthenticationFailed || _misconfigured is not null)
        {
            LogMissMisconfigured(operation, key, e.Error, e.Message);
        }
        else
        {
            LogMissUnavailable(operation, key, e.Error, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "MirrorKv cache {Operation} of {Key} treated as a miss ({Error}): {Reason}")]
    private partial void LogMissUnavailable(string operation, string key, MirrorKvError error, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "MirrorKv cache {Operation} of {Key} treated as a miss ({Error}): {Reason}")]
    private partial void LogMissMisconfigured(string operation, string key, MirrorKvError error, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "MirrorKv cache is misconfigured; every call misses until it is fixed: {Problem}")]
    private partial void LogMisconfigured(string problem);

    [LoggerMessage(Level = LogLevel.Error, Message = "MirrorKv cache cannot connect at start ({Error}); calls miss until it can: {Reason}")]
    private partial void LogConnectFailed(MirrorKvError error, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MirrorKv cache did not cache {Key}: its value of {Length} bytes (plus the 32-byte expiry header) is over the pair's limit; counted in mirrorkv.cache.values_not_cached ({Reason})")]
    private partial void LogTooLarge(string key, long length, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MirrorKv cache write of {Key} ({Bytes} B) not stored: the pair's store is full, so the key will miss; give the nodes more memory (serve --max-memory, or Node:MaxMemory in their configuration). {Reason}")]
    private partial void LogStoreFull(string key, long bytes, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MirrorKv cache key {Key} holds a value this cache did not write; treated as a miss")]
    private partial void LogForeignEntry(string key);

    private sealed class NullBufferWriter : IBufferWriter<byte>
    {
        public static readonly NullBufferWriter Instance = new();
        private byte[] _sink = new byte[256];

        public void Advance(int count)
        {
        }

        public Memory<byte> GetMemory(int sizeHint = 0) => sizeHint <= _sink.Length ? _sink : _sink = new byte[sizeHint];

        public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;
    }
}
