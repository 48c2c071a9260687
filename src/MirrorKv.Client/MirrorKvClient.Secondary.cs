using System.Diagnostics;
using System.Net;
using MirrorKv.Protocol;

namespace MirrorKv.Client;

/// <summary>Keeping up with the secondary that write replies name.</summary>
public sealed partial class MirrorKvClient
{
    private long _lastSecondaryRetry;
    private int _secondaryRetries;
    private int _secondaryRetryScheduled;

    /// <summary>
    /// The warm standby path: the connection to the secondary failed or could not be made, so try again after a
    /// capped, jittered backoff (10 ms doubling up to <see cref="MirrorKvClientOptions.MaxReconnectDelay"/>),
    /// for as long as that node is the primary's secondary. A failover read then finds it connected and
    /// authenticated, instead of waiting for a handshake, or for a write reply to name the secondary again.
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

        lock (_pathLock)
        {
            if (!endPoint.Equals(_secondaryEndPoint) || _secondary is { IsHealthy: true } || !_secondaryConnect.IsCompleted)
            {
                return;
            }

            NodeChannel? old = _secondary;
            _secondary = null;
            _ = old?.DisposeAsync().AsTask();
            StartSecondaryConnect();
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
        ReadOnlySpan<byte> encoded = KvReply.SecondaryEndPointBytes(replyPayload);
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

        if (KvReply.TryRead(replyPayload, out KvReply reply) != WireStatus.Ok || reply.SecondaryEndPoint is null)
        {
            return;
        }

        lock (_pathLock)
        {
            if (reply.SecondaryEndPoint.Equals(_secondaryEndPoint) && (_secondary is { IsHealthy: true } || !_secondaryConnect.IsCompleted))
            {
                Volatile.Write(ref _secondaryEndPointBytes, encoded.ToArray());
                return;
            }

            _book.Learn(reply.SecondaryEndPoint);
            _secondaryEndPoint = reply.SecondaryEndPoint;
            Volatile.Write(ref _secondaryEndPointBytes, encoded.ToArray());
            NodeChannel? old = _secondary;
            _secondary = null;
            _ = old?.DisposeAsync().AsTask();
            StartSecondaryConnect();
        }
    }
}
