using System.Diagnostics;
using System.Net;
using System.Runtime.CompilerServices;
using MirrorKv.Protocol;

namespace MirrorKv.Client;

/// <summary>
/// The warm standby path: a connection to the secondary the primary names, kept up so that a hedge or a
/// failover read never waits for a handshake. It is part of the route but not of the state: it comes and goes
/// under the lock without a transition.
/// </summary>
internal sealed partial class ClientRouter
{
    private Task<NodeChannel?> _secondaryConnect = Task.FromResult<NodeChannel?>(null);
    private long _lastSecondaryRetry;
    private int _secondaryRetries;
    private int _secondaryRetryScheduled;

    /// <summary>The connection to the secondary if it is up, else the one being made (null when none can be).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<NodeChannel?> ReadySecondaryAsync()
    {
        NodeChannel? secondary = _route.Secondary;
        if (secondary is { IsHealthy: true })
        {
            return secondary;
        }

        secondary = await _secondaryConnect.ConfigureAwait(false);
        return secondary is { IsHealthy: true } ? secondary : null;
    }

    /// <summary>
    /// Waits until the connection to the secondary is up. False when the primary names no secondary, or when
    /// none of the attempts within <see cref="MirrorKvClientOptions.PromotionWait"/> succeeded.
    /// </summary>
    public async Task<bool> WaitForSecondaryAsync(CancellationToken cancellationToken)
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
            IPEndPoint? endPoint = _route.SecondaryEndPoint;
            if (endPoint is null || Stopwatch.GetElapsedTime(started) >= _options.PromotionWait)
            {
                return false;
            }

            KeepSecondaryWarm(endPoint);
            await Task.Delay(TimeSpan.FromMilliseconds(20), cancellationToken).ConfigureAwait(false);
        }
    }

    // Under the lock: a new standby connection to the route's secondary (entering Primary, or a new secondary named).
    private void StartStandby()
    {
        IPEndPoint? endPoint = _route.SecondaryEndPoint;
        _secondaryConnect = endPoint is null ? Task.FromResult<NodeChannel?>(null) : ConnectSecondaryAsync(endPoint);
    }

    private async Task<NodeChannel?> ConnectSecondaryAsync(IPEndPoint endPoint)
    {
        try
        {
            NodeChannel channel = await NodeChannel.ConnectAsync(_transport, endPoint, NodeChannelOptions.For(_options), OnChannelFailure, _disposed.Token).ConfigureAwait(false);
            bool kept;
            NodeChannel? replaced = null;
            lock (_lock)
            {
                // The secondary may have changed while this connected (a write reply named another, or a promotion).
                ClientRoute route = _route;
                kept = endPoint.Equals(route.SecondaryEndPoint) && route.Path != ClientPath.Closed;
                if (kept)
                {
                    replaced = route.Secondary;
                    _route = route.WithSecondary(channel);
                    _secondaryRetries = 0;
                }
            }

            _ = replaced?.DisposeAsync().AsTask();
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

    /// <summary>
    /// The connection to the secondary failed or could not be made, so try again after a capped, jittered
    /// backoff (10 ms doubling up to <see cref="MirrorKvClientOptions.MaxReconnectDelay"/>), for as long as
    /// that node is the primary's secondary.
    /// </summary>
    private void KeepSecondaryWarm(IPEndPoint endPoint)
    {
        if (_disposed.IsCancellationRequested || Interlocked.Exchange(ref _secondaryRetryScheduled, 1) == 1)
        {
            return;
        }

        TimeSpan delay = RetryDelay(Interlocked.Increment(ref _secondaryRetries), answered: false);
        _ = RetrySecondaryAsync(endPoint, delay);
    }

    private async Task RetrySecondaryAsync(IPEndPoint endPoint, TimeSpan delay)
    {
        try
        {
            await Task.Delay(delay, _disposed.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        finally
        {
            Volatile.Write(ref _secondaryRetryScheduled, 0);
        }

        NodeChannel? old;
        lock (_lock)
        {
            ClientRoute route = _route;
            if (!endPoint.Equals(route.SecondaryEndPoint) || route.Secondary is { IsHealthy: true } || !_secondaryConnect.IsCompleted || route.Path == ClientPath.Closed)
            {
                return;
            }

            old = route.Secondary;
            _route = route.WithSecondary(null);
            StartStandby();
        }

        _ = old?.DisposeAsync().AsTask();
    }

    /// <summary>
    /// On the write path: every write reply names the primary's current secondary. When it is not the one this
    /// client knows (a node joined after a failover), or this client's connection to it has failed (the
    /// secondary was restarted at the same endpoint), the client starts a connection to it, ready for the next
    /// failover. Compares 20 bytes per write; decodes and allocates only when the secondary changed or came
    /// back, and tries a failed one again at most ten times a second.
    /// </summary>
    public void NoteSecondary(ReadOnlySpan<byte> replyPayload)
    {
        ReadOnlySpan<byte> encoded = KvReply.SecondaryEndPointBytes(replyPayload);
        if (encoded.IsEmpty || encoded.IndexOfAnyExcept((byte)0) < 0)
        {
            return;
        }

        ClientRoute known = _route;
        if (encoded.SequenceEqual(known.SecondaryEndPointBytes)
            && (known.Secondary is { IsHealthy: true } || !_secondaryConnect.IsCompleted || Stopwatch.GetElapsedTime(Volatile.Read(ref _lastSecondaryRetry)) < TimeSpan.FromMilliseconds(100)))
        {
            return;
        }

        Volatile.Write(ref _lastSecondaryRetry, Stopwatch.GetTimestamp());

        if (KvReply.TryRead(replyPayload, out KvReply reply) != WireStatus.Ok || reply.SecondaryEndPoint is null)
        {
            return;
        }

        NodeChannel? old;
        lock (_lock)
        {
            ClientRoute route = _route;
            if (route.Path == ClientPath.Closed)
            {
                return;
            }

            if (reply.SecondaryEndPoint.Equals(route.SecondaryEndPoint) && (route.Secondary is { IsHealthy: true } || !_secondaryConnect.IsCompleted))
            {
                _route = route.WithSecondaryEndPointBytes(encoded.ToArray());
                return;
            }

            _book.Learn(reply.SecondaryEndPoint);
            old = route.Secondary;
            _route = route.WithSecondaryEndPoint(reply.SecondaryEndPoint, encoded.ToArray());
            StartStandby();
        }

        _ = old?.DisposeAsync().AsTask();
    }
}
