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
    private readonly ConnectionHealth _health;
    private readonly bool _ownsHealth;
    private readonly PointerTable _table = new();
    private readonly Stack<KeyBatch> _keyBatches = new();
    private readonly ClientRouter _router;
    private long _reads, _failoverReads, _lookups, _tornRetries, _retriedAfterFailure;

    private MirrorKvClient(MirrorKvClientOptions options)
    {
        _options = options;
        _hedgeDelay = new HedgeDelayEstimator(options);
        _ownsHealth = options.Health is null;
        _health = options.Health ?? new ConnectionHealth(MirrorKvEndPoints.Format(options.AllEndPoints()));
        Microsoft.Extensions.Logging.ILogger logger = options.LoggerFactory?.CreateLogger("MirrorKv.Client") ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        _router = new ClientRouter(options, logger, options.Transport ?? new TcpTransport(), _health, _table, this);
        if (_ownsHealth)
        {
            _health.Register();
        }
    }

    /// <summary>
    /// Raised once per transition of the client's state machine (<see cref="ClientPath"/>), in order, with the
    /// state before and after, why, and the primary writes go to. Raised on the thread that made the transition
    /// (a connection's receive or timer thread, or a caller's) or on a thread-pool thread: a handler must not block. The states and
    /// transitions are listed in the package README ("States").
    /// </summary>
    public event EventHandler<ClientRouteChangedEventArgs>? RouteChanged
    {
        add => _router.RouteChanged += value;
        remove => _router.RouteChanged -= value;
    }

    /// <summary>Raised when reads move to another path, with the new path (on the thread of the transition); <see cref="RouteChanged"/> says more.</summary>
    public event Action<ClientPath>? PathChanged
    {
        add => _router.PathChanged += value;
        remove => _router.PathChanged -= value;
    }

    /// <summary>Raised after the local table was rewritten from a translation: pointers rewritten, distinct slab deltas.</summary>
    public event Action<long, int>? TableRewritten
    {
        add => _router.TableRewritten += value;
        remove => _router.TableRewritten -= value;
    }

    /// <summary>
    /// Raised (on a thread-pool thread) when the primary reports an in-sync secondary again after a failover
    /// this client saw; the argument is how long the pair was unprotected, as this client measured it.
    /// </summary>
    public event Action<TimeSpan>? ProtectedAgain
    {
        add => _router.ProtectedAgain += value;
        remove => _router.ProtectedAgain -= value;
    }

    /// <summary>Where reads go now: the state of the client's state machine.</summary>
    public ClientPath Path => _router.Route.Path;

    /// <summary>The epoch of the primary this client writes to.</summary>
    public ulong Epoch => _router.Route.Epoch;

    /// <summary>How many times the client moved its writes to a promoted secondary.</summary>
    public long PromotionsFollowed => _router.PromotionsFollowed;

    /// <summary>The endpoint writes go to now.</summary>
    public System.Net.IPEndPoint PrimaryEndPoint => _router.Route.Primary.EndPoint;

    /// <summary>Entries in the local pointer table.</summary>
    public int CachedPointers => _table.Count;

    /// <summary>The secondary's endpoint, when known.</summary>
    public IPEndPoint? SecondaryEndPoint => _router.Route.SecondaryEndPoint;

    /// <summary>
    /// Every endpoint the client knows: the configured ones, then those the nodes named (a primary its
    /// secondary, a secondary its primary). Never shrinks: any of them may serve again later.
    /// </summary>
    public IReadOnlyList<EndPoint> KnownEndPoints => _router.Book.Snapshot;

    /// <summary>What the client has done so far.</summary>
    public ClientStats Stats => new(
        Interlocked.Read(ref _reads), Interlocked.Read(ref _failoverReads), Interlocked.Read(ref _lookups), Interlocked.Read(ref _tornRetries),
        Interlocked.Read(ref _retriedAfterFailure), _router.TableRewrites, _router.RewrittenPointers, _router.TranslationDeltas)
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
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, client._router.Disposed);
            await client._router.DiscoverAsync(initial: true, linked.Token).ConfigureAwait(false);
        }
        catch
        {
            await client._router.DisposeAsync().ConfigureAwait(false);
            client._hedgeTimer.Dispose();
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
    public Task<bool> WaitForSecondaryAsync(CancellationToken cancellationToken = default) => _router.WaitForSecondaryAsync(cancellationToken);

    /// <summary>
    /// Asks the node this client writes to (its primary) for its role, epoch, LSNs and whether the pair is
    /// protected, over the connection the client already has. Health checks use it.
    /// </summary>
    /// <exception cref="MirrorKvException">The primary cannot be reached (<see cref="MirrorKvError.Unavailable"/>).</exception>
    public Task<Protocol.NodeStatus> GetPrimaryStatusAsync(CancellationToken cancellationToken = default) =>
        ClientRouter.StatusAsync(_router.Route.Primary, "primary", cancellationToken);

    /// <summary>As <see cref="GetPrimaryStatusAsync"/>, for the secondary this client knows (reads go there after a failover).</summary>
    /// <exception cref="MirrorKvException">No secondary is known or it cannot be reached (<see cref="MirrorKvError.Unavailable"/>).</exception>
    public Task<Protocol.NodeStatus> GetSecondaryStatusAsync(CancellationToken cancellationToken = default) =>
        ClientRouter.StatusAsync(_router.Route.Secondary, "secondary", cancellationToken);

    /// <summary>Closes both connections and stops looking for a primary (the route moves to <see cref="ClientPath.Closed"/>).</summary>
    public async ValueTask DisposeAsync()
    {
        await _router.DisposeAsync().ConfigureAwait(false);
        _hedgeTimer.Dispose();
        if (_ownsHealth)
        {
            _health.Unregister();
        }
        else
        {
            _health.Lost();
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
}
