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
    /// The largest frame this side takes, announced in HELLO. Applications' channels keep the default (a large entry is
    /// read in pieces of it); a slot mover takes pages as large as the nodes' largest entry.
    /// </summary>
    public uint MaxFrameSize { get; init; } = ProtocolLimits.DefaultMaxFrameSize;

    /// <summary>The settings of a client's channels.</summary>
    public static NodeChannelOptions For(MirrorKvClientOptions options) =>
        new(options.Secret, options.ConnectTimeout, options.RequestTimeout, options.CompleteOnReceiveThread);
}
