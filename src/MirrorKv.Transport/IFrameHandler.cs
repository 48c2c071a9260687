namespace MirrorKv.Transport;

/// <summary>
/// Receives what arrives on connections: the responder's request queue, or the requester's completion
/// queue. See <see cref="ITransport"/> for the threading and ownership rules.
/// </summary>
public interface IFrameHandler
{
    /// <summary>A connection opened (before its first frame is delivered).</summary>
    void OnOpened(IConnection connection);

    /// <summary>
    /// A receive brought <paramref name="frames"/> (whole frames, perhaps the start of one more), about to be
    /// delivered one by one: the moment to start fetching what they will touch. Nothing is delivered yet.
    /// </summary>
    void OnBatchStart(IConnection connection, ReadOnlySpan<byte> frames)
    {
    }

    /// <summary>One whole frame; <paramref name="payload"/> is valid only during the call.</summary>
    /// <param name="connection">The connection it came on.</param>
    /// <param name="immediate">The frame's immediate data, as its sender posted it.</param>
    /// <param name="requestId">The frame's request id, as its sender posted it.</param>
    /// <param name="payload">The bytes after the header.</param>
    void OnFrame(IConnection connection, uint immediate, ulong requestId, ReadOnlySpan<byte> payload);

    /// <summary>
    /// A header announced a length the transport cannot accept (<paramref name="error"/>), so no frame after it
    /// can be found: the connection closes once this returns, after sending what was posted
    /// (<see cref="IConnection.CloseAfterFlush"/>). The moment for the layer above to post a last frame that
    /// says why. Frames before it were delivered.
    /// </summary>
    /// <param name="connection">The connection it came on.</param>
    /// <param name="error">What is wrong with the length.</param>
    /// <param name="header">The offending header (<see cref="FrameLayout.HeaderSize"/> bytes), valid only during the call.</param>
    void OnFramingError(IConnection connection, FramingError error, ReadOnlySpan<byte> header)
    {
    }

    /// <summary>Every frame of one receive has been delivered: the moment to flush replies.</summary>
    void OnBatchEnd(IConnection connection);

    /// <summary>The connection closed; <paramref name="error"/> says why when it was not a clean close.</summary>
    void OnClosed(IConnection connection, Exception? error);
}
