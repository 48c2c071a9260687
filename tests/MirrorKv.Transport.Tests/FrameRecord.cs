using MirrorKv.Protocol;

namespace MirrorKv.Transport.Tests;

/// <summary>A frame as a handler received it, copied out of the transport's buffer.</summary>
internal sealed record FrameRecord(FrameHeader Header, byte[] Payload);
