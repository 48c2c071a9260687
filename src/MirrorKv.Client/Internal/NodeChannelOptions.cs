using MirrorKv.Protocol;

namespace MirrorKv.Client;

/// <summary>How a <see cref="NodeChannel"/> connects and completes its operations.</summary>
/// <param name="Secret">The node's client secret, when it has one.</param>
/// <param name="ConnectTimeout">Time to connect and finish the handshake.</param>
/// <param name="RequestTimeout">Time a request may take before the node is suspected.</param>
/// <param name="CompleteOnReceiveThread">Resume awaiters on the receive thread rather than the thread pool.</param>
internal sealed record NodeChannelOptions(byte[]? Secret, TimeSpan ConnectTimeout, TimeSpan RequestTimeout, bool CompleteOnReceiveThread = false)
{
    /// <summary>
    /// The largest frame the channel takes from the node, announced in its HELLO. A client's reads come in pieces of
    /// at most the default; a slot mover takes pages that hold the node's largest entry (SlotTransferConnection).
    /// </summary>
    public uint MaxFrameSize { get; init; } = ProtocolLimits.DefaultMaxFrameSize;

    /// <summary>The settings of a client's channels.</summary>
    public static NodeChannelOptions For(MirrorKvClientOptions options) =>
        new(options.Secret, options.ConnectTimeout, options.RequestTimeout, options.CompleteOnReceiveThread);
}
