using MirrorKv.Protocol;

namespace MirrorKv.Adapter;

/// <summary>The node a secondary dialled answered its handshake with an ERROR frame.</summary>
internal sealed class PrimaryRefusedException(WireStatus status, string message) : InvalidOperationException(message)
{
    /// <summary>Why, as the wire status the node gave.</summary>
    public WireStatus Status { get; } = status;

    /// <summary>
    /// NotPrimary passes during a failover: the node is still promoting, or has not yet seen the previous
    /// secondary's link close. Any other refusal (authentication, a protocol mismatch) stays as it is.
    /// </summary>
    public bool IsTransient => Status == WireStatus.NotPrimary;
}
