using MirrorKv.Transport;

namespace MirrorKv.Client;

/// <summary>
/// A client's routing and failover state: which node is primary and at which epoch, whether reads go to it or
/// to the secondary, the search for a primary (Discovery), the warm standby path to the secondary (Standby),
/// the table rewrite after a failover (Failover) and the watch for a protected pair (Protection). The state is
/// a <see cref="ClientPath"/>; it changes only in <see cref="TryTransition"/>, along the edges of
/// <see cref="IsAllowed"/>, and every change is logged and raised as <see cref="RouteChanged"/>, in order.
/// </summary>
/// <remarks>
/// Threads: <see cref="Route"/> is read by every operation, with one volatile read and no lock; every
/// change of it (a transition, or the standby connection coming and going) is made under <c>_lock</c>, which
/// is never held across an await, a channel's disposal or an event handler (a transition's log line is
/// written under it, so that lines come in the order of the transitions).
/// </remarks>
internal sealed partial class ClientRouter : IAsyncDisposable
{
    private readonly MirrorKvClientOptions _options;
    private readonly Microsoft.Extensions.Logging.ILogger _logger;
    private readonly ITransport _transport;
    private readonly EndPointBook _book;
    private readonly ConnectionHealth _health;
    private readonly PointerTable _table;
    private readonly object _sender;
    private readonly CancellationTokenSource _disposed = new();
    private readonly Lock _lock = new();

    // Transitions made but not yet raised: drained in order by one thread at a time, outside the lock.
    private readonly Queue<ClientRouteChangedEventArgs> _unraised = new();
    private bool _raising;

    private volatile ClientRoute _route = ClientRoute.Connecting;
    private ulong _highestEpoch;
    private long _promotionsFollowed;

    // The sender is what RouteChanged names as its sender: the client the router serves.
    public ClientRouter(MirrorKvClientOptions options, Microsoft.Extensions.Logging.ILogger logger, ITransport transport, ConnectionHealth health, PointerTable table, object sender)
    {
        _options = options;
        _logger = logger;
        _transport = transport;
        _book = new EndPointBook(options.AllEndPoints());
        _health = health;
        _table = table;
        _sender = sender;
    }

    /// <summary>Raised once per transition, in the order they happened, on the thread that made it (or the one draining before it, or the thread pool).</summary>
    public event EventHandler<ClientRouteChangedEventArgs>? RouteChanged;

    /// <summary>The old form of <see cref="RouteChanged"/>: the new path of each transition into Primary, FailingOver or Secondary after connect.</summary>
    public event Action<ClientPath>? PathChanged;

    /// <summary>Where operations go now: one volatile read.</summary>
    public ClientRoute Route => _route;

    /// <summary>Every endpoint known (configured and learned).</summary>
    public EndPointBook Book => _book;

    /// <summary>Cancelled when the client is disposed.</summary>
    public CancellationToken Disposed => _disposed.Token;

    public long PromotionsFollowed => Interlocked.Read(ref _promotionsFollowed);

    /// <summary>
    /// The state machine's edges, all of them. A route reaches Primary from anywhere but Closed (the first
    /// primary found; a promotion followed, a restarted pair, a primary serving again; and Primary to Primary
    /// when another primary is adopted before the old one's failure was reported), leaves Primary for
    /// FailingOver when the primary fails, reaches Secondary only from FailingOver (the table rewritten), and
    /// ends in Closed.
    /// </summary>
    public static bool IsAllowed(ClientPath from, ClientPath to) => (from, to) switch
    {
        (ClientPath.Closed, _) => false,
        (_, ClientPath.Closed) => true,
        (_, ClientPath.Primary) => true,
        (ClientPath.Primary, ClientPath.FailingOver) => true,
        (ClientPath.FailingOver, ClientPath.Secondary) => true,
        _ => false,
    };

    /// <summary>
    /// The one place where the state changes. Moves from <paramref name="from"/> (the route the caller decided
    /// on) to <paramref name="to"/>, adopting <paramref name="adopted"/> as the primary when <paramref name="to"/>
    /// is Primary (and only then). False, with nothing changed, when the state or the primary moved on since
    /// <paramref name="from"/> was read (a race the caller lost: its decision is stale), or when the edge is not
    /// in <see cref="IsAllowed"/> (a bug: logged as an error). Otherwise logs the transition and runs the new
    /// state's entry actions under the lock, then raises <see cref="RouteChanged"/> outside it.
    /// </summary>
    public bool TryTransition(ClientRoute from, ClientPath to, NodeChannel? adopted = null)
    {
        ArgumentNullException.ThrowIfNull(from);
        NodeChannel? retiredPrimary = null, retiredSecondary = null;
        lock (_lock)
        {
            ClientRoute current = _route;
            if (current.Path != from.Path || current.Primary != from.Primary)
            {
                return false;
            }

            if (!IsAllowed(current.Path, to) || (to == ClientPath.Primary) != (adopted is not null))
            {
                LogTransitionRefused(current.Path, to, adopted?.EndPoint.ToString() ?? "(none)");
                return false;
            }

            ClientRoute next = to == ClientPath.Primary ? ClientRoute.To(adopted!) : current.WithPath(to);
            RouteChangeReason reason = ReasonFor(current, next);
            _route = next;
            var change = new ClientRouteChangedEventArgs(current.Path, to, reason, next.Primary?.EndPoint, next.Epoch);

            // Logged under the lock, so that the log shows the transitions in their order, and before the caller
            // goes on (a write that followed a promotion returns after its line); raised outside it, below.
            Log(change, current.Epoch, current.SecondaryEndPoint);
            _unraised.Enqueue(change);
            Enter(current, next, reason);
            if (to == ClientPath.Primary)
            {
                // The old connections are closed outside the lock: closing completes their pending operations,
                // whose continuations may run inline.
                retiredPrimary = current.Primary;
                retiredSecondary = current.Secondary;
            }
        }

        _ = retiredPrimary?.DisposeAsync().AsTask();

        // The secondary's node lives on (mostly as the primary just adopted): its reads in flight are let finish.
        _ = retiredSecondary?.RetireAsync();
        if (to == ClientPath.Closed)
        {
            // Stops discovery, the standby retries and the protection watch; outside the lock, as cancelling
            // runs their continuations.
            _disposed.Cancel();
        }

        if (_lock.IsHeldByCurrentThread)
        {
            // Reached from code that holds the lock (a channel failing inside a connect started under it): the
            // handlers must not run under it, so the thread pool raises the transition.
            ThreadPool.UnsafeQueueUserWorkItem(static router => router.RaiseTransitions(), this, preferLocal: false);
        }
        else
        {
            RaiseTransitions();
        }

        return true;
    }

    private static RouteChangeReason ReasonFor(ClientRoute current, ClientRoute next) => next.Path switch
    {
        ClientPath.Closed => RouteChangeReason.Closed,
        ClientPath.FailingOver => RouteChangeReason.PrimaryFailed,
        ClientPath.Secondary => RouteChangeReason.TableRewritten,
        _ when current.Primary is null => RouteChangeReason.Connected,
        _ when next.Epoch > current.Epoch => RouteChangeReason.PromotionFollowed,
        _ when next.Primary.Hello.Incarnation != current.Primary.Hello.Incarnation => RouteChangeReason.PrimaryRestarted,
        _ => RouteChangeReason.PrimaryResumed,
    };

    // Entry actions (under the lock: each is short and never waits or runs callers' code).
    private void Enter(ClientRoute previous, ClientRoute next, RouteChangeReason reason)
    {
        switch (next.Path)
        {
            case ClientPath.Primary:
                _highestEpoch = Math.Max(_highestEpoch, next.Epoch);
                _health.Reached();
                StartStandby();
                if (reason == RouteChangeReason.PromotionFollowed)
                {
                    Interlocked.Increment(ref _promotionsFollowed);
                    MirrorKvTelemetry.Promotions.Add(1);
                }

                if (previous.Primary is not null)
                {
                    AwaitProtection();
                }

                break;
            case ClientPath.FailingOver:
                _health.Lost();
                MirrorKvTelemetry.Failovers.Add(1);
                AwaitProtection();
                StartFailover(previous.Primary);
                break;
        }
    }

    /// <summary>Raises the transitions made so far, in order; one thread at a time does it, outside the lock.</summary>
    private void RaiseTransitions()
    {
        while (true)
        {
            ClientRouteChangedEventArgs item;
            lock (_lock)
            {
                if (_raising || !_unraised.TryDequeue(out item!))
                {
                    return;
                }

                _raising = true;
            }

            try
            {
                RouteChanged?.Invoke(_sender, item);
                if (item.PreviousPath != ClientPath.Connecting && item.Path is ClientPath.Primary or ClientPath.FailingOver or ClientPath.Secondary)
                {
                    PathChanged?.Invoke(item.Path);
                }
            }
            catch (Exception e)
            {
                // A handler's failure is the application's, and must not stop the client from failing over.
                LogHandlerFailed(item.ToString(), e);
            }
            finally
            {
                lock (_lock)
                {
                    _raising = false;
                }
            }
        }
    }

    private void Log(ClientRouteChangedEventArgs change, ulong previousEpoch, System.Net.IPEndPoint? secondary)
    {
        string primary = change.PrimaryEndPoint?.ToString() ?? "(none)";
        switch (change.Reason)
        {
            case RouteChangeReason.Connected:
                LogConnected(primary, change.Epoch, change.PreviousPath, change.Path);
                break;
            case RouteChangeReason.PrimaryFailed:
                LogFailingOver(primary, secondary?.ToString() ?? "(none known)", change.PreviousPath, change.Path);
                break;
            case RouteChangeReason.TableRewritten:
                LogReadingSecondary(secondary?.ToString() ?? "(none known)", change.PreviousPath, change.Path);
                break;
            case RouteChangeReason.PromotionFollowed:
                LogPromotionFollowed(primary, change.Epoch, change.PreviousPath, change.Path);
                break;
            case RouteChangeReason.PrimaryRestarted:
                LogNewIncarnation(primary, change.Epoch, previousEpoch, change.PreviousPath, change.Path);
                break;
            case RouteChangeReason.PrimaryResumed:
                LogPrimaryResumed(primary, change.Epoch, change.PreviousPath, change.Path);
                break;
            default:
                LogClosed(change.PreviousPath, change.Path);
                break;
        }
    }

    /// <summary>Moves to Closed (once: its entry stops every background task) and closes both connections.</summary>
    public async ValueTask DisposeAsync()
    {
        while (true)
        {
            ClientRoute route = _route;
            if (route.Path == ClientPath.Closed)
            {
                return;
            }

            if (TryTransition(route, ClientPath.Closed))
            {
                break;
            }
        }

        ClientRoute closed = _route;
        if (closed.Primary is not null)
        {
            await closed.Primary.DisposeAsync().ConfigureAwait(false);
        }

        if (closed.Secondary is not null)
        {
            await closed.Secondary.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static MirrorKvException Unavailable(string what) => MirrorKvException.Unavailable(what);
}
