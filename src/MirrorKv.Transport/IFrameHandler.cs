using MirrorKv.Protocol;

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
    void OnFrame(IConnection connection, in FrameHeader header, ReadOnlySpan<byte> payload);

    /// <summary>Every frame of one receive has been delivered: the moment to flush replies.</summary>
    void OnBatchEnd(IConnection connection);

    /// <summary>The connection closed; <paramref name="error"/> says why when it was not a clean close.</summary>
    void OnClosed(IConnection connection, Exception? error);
}
