using System.Diagnostics;
using MirrorKv.Protocol;

namespace MirrorKv.Client;

/// <summary>Following a promotion: the secondary that took over becomes the client's primary.</summary>
public sealed partial class MirrorKvClient
{
    private long _lastSecondaryRetry;

    /// <summary>
    /// The primary to write to: the current one while it is healthy, else the secondary once it reports
    /// itself promoted, waited for up to <see cref="MirrorKvClientOptions.PromotionWait"/>.
    /// </summary>
    private async ValueTask<NodeChannel> WritablePrimaryAsync(CancellationToken cancellationToken)
    {
        NodeChannel primary = _primary;
        if (primary.IsHealthy)
        {
            return primary;
        }

        long start = Stopwatch.GetTimestamp();
        long lastPrimaryTry = 0;
        while (true)
        {
            NodeChannel? promoted = await TryAdoptPromotedSecondaryAsync(cancellationToken).ConfigureAwait(false);
            if (promoted is not null)
            {
                return promoted;
            }

            // A primary that stopped serving only for a pause of its secondary (its lease ran out, nobody was
            // promoted) serves again at the same address: ask it too, ten times a second.
            if (Stopwatch.GetElapsedTime(lastPrimaryTry) >= TimeSpan.FromMilliseconds(100))
            {
                lastPrimaryTry = Stopwatch.GetTimestamp();
                NodeChannel? resumed = await TryReconnectPrimaryAsync(primary, cancellationToken).ConfigureAwait(false);
                if (resumed is not null)
                {
                    return resumed;
                }
            }

            if (Stopwatch.GetElapsedTime(start) >= _options.PromotionWait)
            {
                throw Unavailable($"the primary at {primary.EndPoint} is down and no secondary took over within {_options.PromotionWait.TotalSeconds:F1} s");
            }

            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Every write reply names the primary's current secondary. When it is not the one this client knows (a
    /// node joined after a failover), or this client's connection to it has failed (the secondary was
    /// restarted at the same endpoint), the client starts a connection to it, ready for the next failover.
    /// Compares 20 bytes per write; decodes and allocates only when the secondary changed or came back, and
    /// tries a failed one again at most ten times a second.
    /// </summary>
    private void NoteSecondary(ReadOnlySpan<byte> replyPayload)
    {
        ReadOnlySpan<byte> encoded = KvReply.SecondaryEndpointBytes(replyPayload);
        if (encoded.IsEmpty || encoded.IndexOfAnyExcept((byte)0) < 0)
        {
            return;
        }

        if (encoded.SequenceEqual(Volatile.Read(ref _secondaryEndPointBytes))
            && (_secondary is { IsHealthy: true } || !_secondaryConnect.IsCompleted || Stopwatch.GetElapsedTime(Volatile.Read(ref _lastSecondaryRetry)) < TimeSpan.FromMilliseconds(100)))
        {
            return;
        }

        Volatile.Write(ref _lastSecondaryRetry, Stopwatch.GetTimestamp());

        if (KvReply.TryRead(replyPayload, out KvReply reply) != WireStatus.Ok || reply.SecondaryEndpoint is null)
        {
            return;
        }

        lock (_pathLock)
        {
            if (reply.SecondaryEndpoint.Equals(_secondaryEndPoint) && (_secondary is { IsHealthy: true } || !_secondaryConnect.IsCompleted))
            {
                Volatile.Write(ref _secondaryEndPointBytes, encoded.ToArray());
                return;
            }

            _secondaryEndPoint = reply.SecondaryEndpoint;
            Volatile.Write(ref _secondaryEndPointBytes, encoded.ToArray());
            NodeChannel? old = _secondary;
            _secondary = null;
            _ = old?.DisposeAsync().AsTask();
            StartSecondaryConnect();
        }
    }

    private async Task<NodeChannel?> TryReconnectPrimaryAsync(NodeChannel failed, CancellationToken cancellationToken)
    {
        NodeChannel candidate;
        try
        {
            candidate = await NodeChannel.ConnectAsync(_transport, failed.EndPoint, NodeChannelOptions.For(_options), OnChannelFailure, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is MirrorKvException or IOException or TimeoutException or System.Net.Sockets.SocketException)
        {
            return null;
        }

        bool adopted = false;
        if (candidate.Hello.Role == NodeRole.Primary && candidate.Hello.Epoch >= failed.Hello.Epoch)
        {
            lock (_pathLock)
            {
                if (_primary == failed)
                {
                    _primary = candidate;
                    _path = ClientPath.Primary;
                    adopted = true;
                }
            }
        }

        if (!adopted)
        {
            await candidate.DisposeAsync().ConfigureAwait(false);
            return null;
        }

        await failed.DisposeAsync().ConfigureAwait(false);
        PathChanged?.Invoke(ClientPath.Primary);
        return candidate;
    }

    private async Task<NodeChannel?> TryAdoptPromotedSecondaryAsync(CancellationToken cancellationToken)
    {
        if (_primary.IsHealthy)
        {
            return _primary;
        }

        System.Net.IPEndPoint? endPoint = _secondaryEndPoint;
        if (endPoint is null)
        {
            return null;
        }

        NodeChannel candidate;
        try
        {
            candidate = await NodeChannel.ConnectAsync(_transport, endPoint, NodeChannelOptions.For(_options), OnChannelFailure, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is MirrorKvException or IOException or TimeoutException or System.Net.Sockets.SocketException)
        {
            return null;
        }

        if (candidate.Hello.Role != NodeRole.Primary)
        {
            await candidate.DisposeAsync().ConfigureAwait(false);
            return null;
        }

        NodeChannel? retired;
        bool swapped = false;
        lock (_pathLock)
        {
            if (_primary.IsHealthy)
            {
                retired = candidate;
                candidate = _primary;
            }
            else
            {
                swapped = true;
                retired = _secondary;
                _primary = candidate;
                _secondary = null;
                _secondaryConnect = Task.FromResult<NodeChannel?>(null);
                _secondaryEndPoint = candidate.Hello.PeerEndpoint;
                _secondaryEndPointBytes = KvReply.EncodeEndpoint(_secondaryEndPoint);
                _path = ClientPath.Primary;
            }
        }

        if (retired is not null && retired != candidate)
        {
            await retired.DisposeAsync().ConfigureAwait(false);
        }

        if (swapped)
        {
            Interlocked.Increment(ref _promotionsFollowed);
            MirrorKvTelemetry.Promotions.Add(1);
            LogPromotionFollowed(candidate.EndPoint.ToString(), candidate.Hello.Epoch);
            PathChanged?.Invoke(ClientPath.Primary);
        }

        return candidate;
    }
}
