using System.Diagnostics;
using MirrorKv.Protocol;

namespace MirrorKv.Client;

/// <summary>Keeping up with the secondary that write replies name.</summary>
public sealed partial class MirrorKvClient
{
    private long _lastSecondaryRetry;

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

            _book.Learn(reply.SecondaryEndpoint);
            _secondaryEndPoint = reply.SecondaryEndpoint;
            Volatile.Write(ref _secondaryEndPointBytes, encoded.ToArray());
            NodeChannel? old = _secondary;
            _secondary = null;
            _ = old?.DisposeAsync().AsTask();
            StartSecondaryConnect();
        }
    }
}
