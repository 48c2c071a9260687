using System.Diagnostics;
using MirrorKv.Protocol;
using MirrorKv.Transport;
using Microsoft.Extensions.Logging;

namespace MirrorKv.Adapter;

/// <summary>
/// The connection guard: once a second, closes connections that hold resources without making progress
/// (no handshake, a frame that never ends, replies never read) and reports refused connections.
/// </summary>
internal sealed partial class NodeFrameHandler
{
    private long _lastRefusalReport = Stopwatch.GetTimestamp();

    /// <summary>Runs the checks over every open connection; called by the node's guard timer.</summary>
    public void Sweep()
    {
        NodeOptions options = node.Options;
        foreach (IConnection connection in _open.Keys)
        {
            if (connection.State is not ConnectionState state || !connection.IsOpen)
            {
                continue;
            }

            if (!state.Greeted && Stopwatch.GetElapsedTime(state.OpenedAt) > options.HandshakeTimeout)
            {
                Refuse(connection, WireStatus.Timeout, $"no {(state.Challenge is null ? "HELLO" : "AUTH")} within {options.HandshakeTimeout.TotalSeconds:F0} s");
            }
            else if (connection.PartialFrameFor > options.FrameTimeout)
            {
                Refuse(connection, WireStatus.Timeout, $"a frame stayed incomplete for {options.FrameTimeout.TotalSeconds:F0} s: the sender is too slow or stuck");
            }
            else if (state.Kind != PeerKind.Peer && connection.WriteBlockedFor > options.UnreadRepliesTimeout)
            {
                // It does not read, so an ERROR frame would not reach it either: drop it.
                LogRefusedLimited(connection, WireStatus.Timeout, $"{connection.QueuedBytes} reply bytes unread for {options.UnreadRepliesTimeout.TotalSeconds:F0} s");
                connection.Abort(new TimeoutException("the client stopped reading its replies"));
            }
        }

        double seconds = Stopwatch.GetElapsedTime(_lastRefusalReport).TotalSeconds;
        int refused = Interlocked.Exchange(ref _refusedConnections, 0);
        if (refused > 0)
        {
            LogConnectionsRefused(refused, seconds, options.MaxConnections);
        }

        Volatile.Write(ref _refusalLogBudget, RefusalLinesPerSweep);
        int suppressed = Interlocked.Exchange(ref _refusalsSuppressed, 0);
        if (suppressed > 0)
        {
            LogRefusalsSuppressed(suppressed, seconds);
        }

        _lastRefusalReport = Stopwatch.GetTimestamp();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "closed {Count} more connections for bad input or timeouts in the last {Seconds:F1} s (one line each is logged up to 20 per period)")]
    private partial void LogRefusalsSuppressed(int count, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "refused {Count} connections in the last {Seconds:F1} s: {Max} were open already (NodeOptions.MaxConnections)")]
    private partial void LogConnectionsRefused(int count, double seconds, int max);
}
