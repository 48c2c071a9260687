using MirrorKv.Transport;

namespace MirrorKv.Protocol;

/// <summary>
/// A transport frame handler that speaks MirrorKv: it receives each frame with its header decoded (opcode,
/// status, request id), and the protocol answers what the transport cannot: a frame whose reserved flags are set
/// gets ERROR MalformedFrame once it has arrived (the transport delimits it by its length, within the maximum),
/// a length the transport refuses gets ERROR MalformedFrame or FrameTooLarge at once, each followed by a close.
/// The threading and ownership rules are <see cref="ITransport"/>'s.
/// </summary>
public interface IMessageHandler : IFrameHandler
{
    /// <summary>One whole frame, its header decoded; <paramref name="payload"/> is valid only during the call.</summary>
    void OnFrame(IConnection connection, in FrameHeader header, ReadOnlySpan<byte> payload);

    void IFrameHandler.OnFrame(IConnection connection, uint immediate, ulong requestId, ReadOnlySpan<byte> payload)
    {
        if (!FrameHeader.TryFromFrame(immediate, requestId, payload.Length, out FrameHeader header))
        {
            connection.Fail(WireStatus.MalformedFrame, MalformedHeaderText);
            return;
        }

        OnFrame(connection, header, payload);
    }

    void IFrameHandler.OnFramingError(IConnection connection, FramingError error, ReadOnlySpan<byte> header)
    {
        // The header's own check, so that a header wrong in both ways (an HTTP request's first bytes: a huge
        // length and non-zero flags) gets the status it always got: MalformedFrame before FrameTooLarge.
        WireStatus status = FrameHeader.TryRead(header, connection.MaxFrameSize, out FrameHeader read);
        if (status == WireStatus.Ok)
        {
            status = error == FramingError.TooLarge ? WireStatus.FrameTooLarge : WireStatus.MalformedFrame;
        }

        connection.Fail(status, status == WireStatus.FrameTooLarge
            ? $"frame of {read.Length} bytes exceeds the maximum of {connection.MaxFrameSize}"
            : MalformedHeaderText);
    }

    private const string MalformedHeaderText = "malformed frame header (length below 16 or reserved flags set)";
}
