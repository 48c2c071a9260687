using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using MirrorKv.Protocol;

namespace MirrorKv.Client;

/// <summary>
/// Finding the primary: ask every known endpoint who it is, learn the endpoints the answers name, adopt the
/// node that says it is primary, and try again with capped, jittered backoff until one does. Used at
/// connect, and whenever the primary the client writes to fails or stops serving.
/// </summary>
public sealed partial class MirrorKvClient
{
    // First pause between rounds, doubled each round; short, because a promotion after a kill takes ms.
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(10);

    // Longest pause while some node answers without being primary: a promotion or a resumed lease is near.
    private static readonly TimeSpan AnsweredRetryDelay = TimeSpan.FromMilliseconds(100);

    private readonly CancellationTokenSource _disposed = new();
    private Task<NodeChannel>? _discovery;

    /// <summary>
    /// Every endpoint the client knows: the configured ones, then those the nodes named (a primary its
    /// secondary, a secondary its primary). Never shrinks: any of them may serve again later.
    /// </summary>
    public IReadOnlyList<EndPoint> KnownEndPoints => _book.Snapshot;

    /// <summary>
    /// The primary to write to: the current one while it is healthy, else the one the shared discovery finds,
    /// waited for until <see cref="MirrorKvClientOptions.PromotionWait"/> after <paramref name="since"/>.
    /// </summary>
    private async ValueTask<NodeChannel> WritablePrimaryAsync(long since, CancellationToken cancellationToken)
    {
        NodeChannel primary = _primary;
        if (primary.IsHealthy)
        {
            return primary;
        }

        TimeSpan left = _options.PromotionWait - Stopwatch.GetElapsedTime(since);
        Task<NodeChannel> discovery = DiscoverPrimaryAsync();
        try
        {
            return left > TimeSpan.Zero
                ? await discovery.WaitAsync(left, cancellationToken).ConfigureAwait(false)
                : throw new TimeoutException();
        }
        catch (TimeoutException)
        {
            throw Unavailable($"no node served as primary within {_options.PromotionWait.TotalSeconds:F1} s ({_book.Describe()})");
        }
        catch (OperationCanceledException) when (_disposed.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new ObjectDisposedException(nameof(MirrorKvClient));
        }
    }

    /// <summary>The running discovery, or a new one: one per client at a time, whoever needs a primary.</summary>
    private Task<NodeChannel> DiscoverPrimaryAsync()
    {
        lock (_pathLock)
        {
            if (_discovery is null || _discovery.IsCompleted)
            {
                _discovery = Task.Run(() => DiscoverAsync(initial: false, _disposed.Token));
            }

            return _discovery;
        }
    }

    /// <summary>
    /// Rounds of <see cref="ProbeRoundAsync"/> until a node says it is primary. A round that learns a new
    /// endpoint is followed at once. At connect (<paramref name="initial"/>) it gives up when no node answers
    /// at all (with the authentication error if that is why), or when none became primary within
    /// <see cref="MirrorKvClientOptions.PromotionWait"/>; afterwards it keeps going until the client is disposed.
    /// </summary>
    private async Task<NodeChannel> DiscoverAsync(bool initial, CancellationToken cancellationToken)
    {
        long start = Stopwatch.GetTimestamp();
        int round = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            ProbeResult result = await ProbeRoundAsync(cancellationToken).ConfigureAwait(false);
            CountConnectAttempt(result);
            if (result.Primary is { } found)
            {
                return Adopt(found);
            }

            if (result.Learned)
            {
                continue;
            }

            if (initial && !result.Answered)
            {
                throw result.AuthenticationError ?? Unavailable($"no MirrorKv node answers ({_book.Describe()})");
            }

            if (initial && Stopwatch.GetElapsedTime(start) >= _options.PromotionWait)
            {
                throw Unavailable($"no node served as primary within {_options.PromotionWait.TotalSeconds:F1} s ({_book.Describe()})");
            }

            await Task.Delay(RetryDelay(round++, result.Answered), cancellationToken).ConfigureAwait(false);
        }
    }

    private void CountConnectAttempt(in ProbeResult result)
    {
        if (!MirrorKvTelemetry.ConnectAttempts.Enabled)
        {
            return;
        }

        string? error = result.Primary is not null ? null
            : result.AuthenticationError is not null ? nameof(MirrorKvError.AuthenticationFailed)
            : result.Answered ? "no_primary" : "no_answer";
        if (error is null)
        {
            MirrorKvTelemetry.ConnectAttempts.Add(1, _health.Tag);
        }
        else
        {
            MirrorKvTelemetry.ConnectAttempts.Add(1, _health.Tag, new KeyValuePair<string, object?>("error.type", error));
        }
    }

    private TimeSpan RetryDelay(int round, bool answered)
    {
        TimeSpan cap = answered && AnsweredRetryDelay < _options.MaxReconnectDelay ? AnsweredRetryDelay : _options.MaxReconnectDelay;
        double full = Math.Min(cap.TotalMilliseconds, FirstRetryDelay.TotalMilliseconds * Math.Pow(2, Math.Min(round, 20)));
        return TimeSpan.FromMilliseconds(full * (0.5 + (Random.Shared.NextDouble() / 2)));
    }

    /// <summary>
    /// Connects to every known endpoint at once. Returns as soon as one says primary at an epoch no older than
    /// the client's (an older one only once every answer is in and none is newer: both nodes were restarted);
    /// the other connections are closed as they complete. Every answer's peer endpoint is learned.
    /// </summary>
    private async Task<ProbeResult> ProbeRoundAsync(CancellationToken cancellationToken)
    {
        EndPoint[] endPoints = _book.Snapshot;
        var pending = new List<Task<NodeChannel?>>(endPoints.Length);
        foreach (EndPoint endPoint in endPoints)
        {
            pending.Add(TryConnectAsync(endPoint, cancellationToken));
        }

        ulong epoch = Volatile.Read(ref _epoch);
        NodeChannel? older = null;
        bool answered = false, learned = false;
        MirrorKvException? authentication = null;
        while (pending.Count > 0)
        {
            Task<NodeChannel?> done = await Task.WhenAny(pending).ConfigureAwait(false);
            pending.Remove(done);
            NodeChannel? channel;
            try
            {
                channel = await done.ConfigureAwait(false);
            }
            catch (MirrorKvException e) when (e.Error == MirrorKvError.AuthenticationFailed)
            {
                authentication ??= e;
                continue;
            }

            if (channel is null)
            {
                continue;
            }

            answered = true;
            learned |= _book.Learn(channel.Hello.PeerEndPoint);
            if (channel.Hello.Role != NodeRole.Primary)
            {
                await channel.DisposeAsync().ConfigureAwait(false);
                continue;
            }

            if (channel.Hello.Epoch >= epoch)
            {
                CloseWhenConnected(pending);
                if (older is not null)
                {
                    await older.DisposeAsync().ConfigureAwait(false);
                }

                return new ProbeResult(channel, true, learned, null);
            }

            if (older is null || channel.Hello.Epoch > older.Hello.Epoch)
            {
                (older, channel) = (channel, older);
            }

            if (channel is not null)
            {
                await channel.DisposeAsync().ConfigureAwait(false);
            }
        }

        return new ProbeResult(older, answered, learned, authentication);
    }

    /// <summary>One endpoint's HELLO; null (with its answer noted) when it cannot be reached.</summary>
    private async Task<NodeChannel?> TryConnectAsync(EndPoint endPoint, CancellationToken cancellationToken)
    {
        IPEndPoint[] targets;
        try
        {
            targets = endPoint is DnsEndPoint dns
                ? [.. (await Dns.GetHostAddressesAsync(dns.Host, dns.AddressFamily, cancellationToken).ConfigureAwait(false)).Select(a => new IPEndPoint(a, dns.Port))]
                : [(IPEndPoint)endPoint];
        }
        catch (SocketException e)
        {
            _book.Note(endPoint, $"cannot resolve: {e.Message}");
            return null;
        }

        // A name may resolve to several addresses (localhost: ::1 and 127.0.0.1): the first that answers counts.
        foreach (IPEndPoint target in targets)
        {
            try
            {
                NodeChannel channel = await NodeChannel.ConnectAsync(_transport, target, NodeChannelOptions.For(_options), OnChannelFailure, cancellationToken).ConfigureAwait(false);
                _book.Note(endPoint, $"{channel.Hello.Role} at epoch {channel.Hello.Epoch}");
                return channel;
            }
            catch (MirrorKvException e) when (e.Error == MirrorKvError.AuthenticationFailed)
            {
                _book.Note(endPoint, e.Message);
                throw;
            }
            catch (Exception e) when (e is MirrorKvException or IOException or TimeoutException or SocketException or OperationCanceledException or Transport.ConnectionClosedException && !cancellationToken.IsCancellationRequested)
            {
                _book.Note(endPoint, e is OperationCanceledException or TimeoutException ? $"no answer within {_options.ConnectTimeout.TotalSeconds:F1} s" : e.Message);
            }
        }

        return null;
    }

    private static void CloseWhenConnected(List<Task<NodeChannel?>> pending)
    {
        foreach (Task<NodeChannel?> task in pending)
        {
            _ = task.ContinueWith(
                static t =>
                {
                    if (t.Result is { } late)
                    {
                        _ = late.DisposeAsync().AsTask();
                    }
                },
                CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
        }
    }

    /// <summary>
    /// Makes <paramref name="candidate"/> the primary (unless another caller adopted a healthy one meanwhile),
    /// retires the old primary and secondary channels, and starts a connection to the secondary it names.
    /// </summary>
    private NodeChannel Adopt(NodeChannel candidate)
    {
        NodeChannel? oldPrimary, oldSecondary;
        lock (_pathLock)
        {
            if (_primary is { IsHealthy: true } current && current != candidate)
            {
                _ = candidate.DisposeAsync().AsTask();
                return current;
            }

            oldPrimary = _primary;
            oldSecondary = _secondary;
            _primary = candidate;
            _secondary = null;
            _secondaryConnect = Task.FromResult<NodeChannel?>(null);
            _secondaryEndPoint = candidate.Hello.PeerEndPoint;
            _secondaryEndPointBytes = KvReply.EncodeEndPoint(_secondaryEndPoint);
            _path = ClientPath.Primary;
            Volatile.Write(ref _epoch, Math.Max(Volatile.Read(ref _epoch), candidate.Hello.Epoch));
            StartSecondaryConnect();
        }

        _health.Reached();
        _ = oldSecondary?.DisposeAsync().AsTask();
        if (oldPrimary is null)
        {
            return candidate;
        }

        _ = oldPrimary.DisposeAsync().AsTask();
        AwaitProtection();
        ulong before = oldPrimary.Hello.Epoch;
        if (candidate.Hello.Epoch > before)
        {
            Interlocked.Increment(ref _promotionsFollowed);
            MirrorKvTelemetry.Promotions.Add(1);
            LogPromotionFollowed(candidate.EndPoint.ToString(), candidate.Hello.Epoch);
        }
        else if (candidate.Hello.Incarnation != oldPrimary.Hello.Incarnation)
        {
            LogNewIncarnation(candidate.EndPoint.ToString(), candidate.Hello.Epoch, before);
        }
        else
        {
            LogPrimaryResumed(candidate.EndPoint.ToString(), candidate.Hello.Epoch);
        }

        PathChanged?.Invoke(ClientPath.Primary);
        return candidate;
    }

    private readonly record struct ProbeResult(NodeChannel? Primary, bool Answered, bool Learned, MirrorKvException? AuthenticationError);
}
