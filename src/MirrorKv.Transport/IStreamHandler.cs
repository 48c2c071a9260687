namespace MirrorKv.Transport;

/// <summary>
/// Receives what arrives on a stream connection: one whose bytes are not frames (<see cref="FrameLayout"/>) but
/// another protocol's requests (RESP), which the handler delimits itself. The same rules as <see cref="IFrameHandler"/>
/// hold (one callback at a time per connection, in wire order; spans valid only during the call; replies
/// flushed at the batch's end), and the same limits: a request never grows past the connection's
/// <see cref="IConnection.MaxFrameSize"/>, backpressure holds receives, and a request that stays incomplete
/// shows in <see cref="IConnection.PartialFrameFor"/>.
/// </summary>
/// <remarks>
/// Replies go out with <see cref="IConnection.BeginPostBytes"/> and <see cref="IConnection.EndPostBytes"/>:
/// raw bytes, no frame header. A handler that gives up on a connection sends its protocol's error first, then
/// calls <see cref="IConnection.CloseAfterFlush"/>.
/// </remarks>
public interface IStreamHandler
{
    /// <summary>A connection opened (before its first byte is delivered).</summary>
    void OnOpened(IConnection connection);

    /// <summary>A receive brought bytes, about to be delivered request by request. Nothing is delivered yet.</summary>
    void OnBatchStart(IConnection connection);

    /// <summary>
    /// Serves the request at the start of <paramref name="data"/> when all of it is there and returns its
    /// length in bytes; returns 0 when it is incomplete, with <paramref name="needed"/> set to the length the
    /// whole request is known to have so far (0 when unknown: then at least one more byte), or when the
    /// handler closed the connection. <paramref name="data"/> holds every byte received and not yet consumed.
    /// </summary>
    int OnRequest(IConnection connection, ReadOnlySpan<byte> data, out int needed);

    /// <summary>Every whole request of one receive has been delivered: the moment to flush replies.</summary>
    void OnBatchEnd(IConnection connection);

    /// <summary>The connection closed; <paramref name="error"/> says why when it was not a clean close.</summary>
    void OnClosed(IConnection connection, Exception? error);
}
