using MirrorKv.Transport;

namespace MirrorKv.Protocol;

/// <summary>Constants of the wire protocol (docs/protocol.md, "Limits").</summary>
public static class ProtocolLimits
{
    /// <summary>"MKV1" as the first four payload bytes of HELLO and its reply.</summary>
    public const uint Magic = 0x31564B4D;

    /// <summary>
    /// Largest frame a node takes before the handshake is done (HELLO answered, AUTH accepted when asked): HELLO and
    /// AUTH need a few dozen bytes, and a caller that has not proved the secret must not make the node buffer a frame
    /// of the full size on each of its connections.
    /// </summary>
    public const uint MaxHandshakeFrameSize = 4096;

    /// <summary>Smallest maximum frame size a node may announce: room for a 64 KiB READ and its header.</summary>
    public const uint MinMaxFrameSize = 64 * 1024 + 1024;

    /// <summary>
    /// Default maximum frame size: 4 MiB, room for the largest entry of a 1 MiB slab in one WRITE and for
    /// REPLICATE batches of a few hundred small records, while capping what one frame can make a node buffer.
    /// </summary>
    public const uint DefaultMaxFrameSize = FrameLayout.DefaultMaxFrameSize;

    /// <summary>Largest maximum frame size a node accepts (bounds per-connection buffers): the transport's limit.</summary>
    public const uint MaxMaxFrameSize = FrameLayout.MaxFrameSize;

    /// <summary>Error replies carry at most this many bytes of UTF-8 text.</summary>
    public const int MaxErrorMessageBytes = 1024;
}
