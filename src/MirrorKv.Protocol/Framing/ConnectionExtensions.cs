using System.Net;
using MirrorKv.Transport;

namespace MirrorKv.Protocol;

/// <summary>
/// Posting MirrorKv frames on a transport connection: the opcode and status go into the frame's immediate data
/// (<see cref="FrameHeader.ImmediateOf"/>), which the transport carries without reading.
/// </summary>
public static class ConnectionExtensions
{
    /// <summary>
    /// Reserves a frame with <paramref name="payloadLength"/> payload bytes and returns the payload span to fill;
    /// see <see cref="IConnection.BeginPost"/> (the send lock is held until <see cref="IConnection.EndPost"/>).
    /// </summary>
    /// <exception cref="ConnectionClosedException">The connection is closed, or closing.</exception>
    public static Span<byte> BeginPost(this IConnection connection, Opcode opcode, WireStatus status, ulong requestId, int payloadLength) =>
        connection.BeginPost(FrameHeader.ImmediateOf(opcode, status), requestId, payloadLength);

    /// <summary>Posts a frame with a payload copied from <paramref name="payload"/>.</summary>
    /// <exception cref="ConnectionClosedException">The connection is closed, or closing.</exception>
    public static void Post(this IConnection connection, Opcode opcode, WireStatus status, ulong requestId, ReadOnlySpan<byte> payload) =>
        connection.Post(FrameHeader.ImmediateOf(opcode, status), requestId, payload);

    /// <summary>Posts a frame that overtakes the frames queued ahead of it; see <see cref="IConnection.PostUrgent"/>.</summary>
    /// <exception cref="ConnectionClosedException">The connection is closed, or closing.</exception>
    public static void PostUrgent(this IConnection connection, Opcode opcode, WireStatus status, ulong requestId, ReadOnlySpan<byte> payload) =>
        connection.PostUrgent(FrameHeader.ImmediateOf(opcode, status), requestId, payload);

    /// <summary>
    /// Sends an ERROR frame (request id 0) with <paramref name="status"/> and <paramref name="message"/>, then
    /// closes; a connection already closed is aborted with the message as the reason.
    /// </summary>
    public static void Fail(this IConnection connection, WireStatus status, string message)
    {
        try
        {
            Span<byte> payload = connection.BeginPost(Opcode.Error, status, 0, ErrorText.Size(message));
            ErrorText.Write(payload, message);
            connection.EndPost();
            connection.CloseAfterFlush();
        }
        catch (ConnectionClosedException)
        {
            connection.Abort(new ProtocolViolationException(message));
        }
    }
}
