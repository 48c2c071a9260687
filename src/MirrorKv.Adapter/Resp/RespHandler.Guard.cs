using System.Diagnostics;
using MirrorKv.Transport;
using Microsoft.Extensions.Logging;

namespace MirrorKv.Adapter.Resp;

/// <summary>
/// The RESP port's connection guard, with the native port's limits: a connection that has not proved the
/// secret within the handshake timeout, a request that stays incomplete past the frame timeout, and replies
/// left unread past the unread-replies timeout all close the connection. An authenticated connection may stay
/// idle, as redis's (timeout 0). A connection that sent a protocol error is closed a moment after the error.
/// </summary>
internal sealed partial class RespHandler
{
    // How long a connection that sent a protocol error is kept, its input dropped, so that its client can read
    // the error before the close: a second is many round trips, and a stream of garbage costs only reads.
    private static readonly TimeSpan ProtocolErrorLinger = TimeSpan.FromSeconds(1);

    /// <summary>Runs the checks over every open RESP connection; called by the node's guard timer.</summary>
    public void Sweep()
    {
        SampleRate();
        NodeOptions options = _node.Options;
        foreach ((IConnection connection, RespSession session) in _open)
        {
            if (!connection.IsOpen)
            {
                continue;
            }

            if (session.DiscardingSince != 0 && Stopwatch.GetElapsedTime(session.DiscardingSince) > ProtocolErrorLinger)
            {
                session.Output.CloseAfterReplies();
                continue;
            }

            string? reason = !session.Authenticated && Stopwatch.GetElapsedTime(session.OpenedAt) > options.HandshakeTimeout
                ? $"no AUTH within {options.HandshakeTimeout.TotalSeconds:F0} s"
                : connection.PartialFrameFor > options.FrameTimeout
                    ? $"a request stayed incomplete for {options.FrameTimeout.TotalSeconds:F0} s"
                    : connection.WriteBlockedFor > options.UnreadRepliesTimeout
                        ? $"{connection.QueuedBytes} reply bytes unread for {options.UnreadRepliesTimeout.TotalSeconds:F0} s"
                        : null;
            if (reason is not null)
            {
                // Nothing is sent: an unsolicited reply would be taken as the answer to the client's next command.
                LogTimedOut(connection.RemoteEndPoint.ToString() ?? "?", reason);
                connection.Abort(new TimeoutException(reason));
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "closing RESP connection from {Remote}: {Reason}")]
    private partial void LogTimedOut(string remote, string reason);
}
