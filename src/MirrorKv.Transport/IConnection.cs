using System.Net;
using MirrorKv.Protocol;

namespace MirrorKv.Transport;

/// <summary>One end of a connection: a queue pair. See <see cref="ITransport"/> for the rules.</summary>
public interface IConnection : IAsyncDisposable
{
    /// <summary>The other end.</summary>
    EndPoint RemoteEndPoint { get; }

    /// <summary>False once closed, by either side or by a failure.</summary>
    bool IsOpen { get; }

    /// <summary>Largest frame this end accepts; a larger one closes the connection with FrameTooLarge.</summary>
    uint MaxFrameSize { get; set; }

    /// <summary>Free for the handler: per-connection state such as the peer kind after HELLO.</summary>
    object? State { get; set; }

    /// <summary>
    /// Reserves a frame with <paramref name="payloadLength"/> payload bytes in the send queue, takes the send
    /// lock and returns the payload span to fill. Must be followed by <see cref="EndPost"/> on the same thread.
    /// </summary>
    /// <exception cref="ConnectionClosedException">The connection is closed.</exception>
    Span<byte> BeginPost(Opcode opcode, WireStatus status, ulong requestId, int payloadLength);

    /// <summary>Commits the frame begun by <see cref="BeginPost"/> and releases the send lock.</summary>
    void EndPost();

    /// <summary>Posts a frame with a payload copied from <paramref name="payload"/>.</summary>
    void Post(Opcode opcode, WireStatus status, ulong requestId, ReadOnlySpan<byte> payload);

    /// <summary>Rings the doorbell: everything posted goes to the wire, in one write when it fits.</summary>
    void Flush();

    /// <summary>Sends what is posted, then closes.</summary>
    void CloseAfterFlush();

    /// <summary>Sends an ERROR frame with <paramref name="status"/> and <paramref name="message"/>, then closes.</summary>
    void Fail(WireStatus status, string message);

    /// <summary>Closes at once; posted frames not yet sent are dropped.</summary>
    void Abort(Exception? reason);
}
