using System.Diagnostics;

namespace MirrorKv.Client;

/// <summary>
/// Telling the application when its pair is protected again: after a failover the primary goes on alone, and
/// only the primary knows when a secondary has caught up, so the client asks it (STATUS, every 250 ms, only
/// in that time) and logs the moment once.
/// </summary>
internal sealed partial class ClientRouter
{
    private static readonly TimeSpan ProtectionPollInterval = TimeSpan.FromMilliseconds(250);

    private int _awaitingProtection;
    private int _protectionWatch;
    private long _unprotectedSince;

    /// <summary>
    /// Raised (on a thread-pool thread) when the primary reports an in-sync secondary again after a failover
    /// this client saw; the argument is how long the pair was unprotected, as this client measured it.
    /// </summary>
    public event Action<TimeSpan>? ProtectedAgain;

    // Entry action (under the lock) when the client lost its primary or moved to another one: from now on, watch for protection.
    private void AwaitProtection()
    {
        if (Interlocked.Exchange(ref _awaitingProtection, 1) == 0)
        {
            Volatile.Write(ref _unprotectedSince, Stopwatch.GetTimestamp());
        }

        if (!_disposed.IsCancellationRequested && Interlocked.Exchange(ref _protectionWatch, 1) == 0)
        {
            _ = WatchProtectionAsync();
        }
    }

    /// <summary>STATUS over a channel the client has: health checks, and the watch below.</summary>
    public static async Task<Protocol.NodeStatus> StatusAsync(NodeChannel? channel, string which, CancellationToken cancellationToken)
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

    private async Task WatchProtectionAsync()
    {
        try
        {
            while (true)
            {
                await Task.Delay(ProtectionPollInterval, _disposed.Token).ConfigureAwait(false);
                NodeChannel primary = _route.Primary;
                if (!primary.IsHealthy)
                {
                    continue;
                }

                Protocol.NodeStatus status;
                try
                {
                    status = await StatusAsync(primary, "primary", _disposed.Token).ConfigureAwait(false);
                }
                catch (MirrorKvException)
                {
                    continue;
                }

                if (status.Role == Protocol.NodeRole.Primary && status.Protected)
                {
                    Volatile.Write(ref _awaitingProtection, 0);
                    TimeSpan unprotected = Stopwatch.GetElapsedTime(Volatile.Read(ref _unprotectedSince));
                    MirrorKvTelemetry.ProtectedAgain.Add(1);
                    LogProtectedAgain(primary.EndPoint.ToString(), status.Epoch, status.Peer?.ToString() ?? "(unnamed)", unprotected.TotalSeconds);
                    ProtectedAgain?.Invoke(unprotected);
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Disposed.
        }
        finally
        {
            Volatile.Write(ref _protectionWatch, 0);
        }
    }
}
