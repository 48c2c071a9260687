using System.Net;

namespace MirrorKv.Client;

/// <summary>One transition of a client's state machine: where reads went before and go now, and where writes go.</summary>
public sealed class ClientRouteChangedEventArgs : EventArgs
{
    /// <summary>Creates the arguments of one transition.</summary>
    public ClientRouteChangedEventArgs(ClientPath previousPath, ClientPath path, RouteChangeReason reason, IPEndPoint? primaryEndPoint, ulong epoch)
    {
        PreviousPath = previousPath;
        Path = path;
        Reason = reason;
        PrimaryEndPoint = primaryEndPoint;
        Epoch = epoch;
    }

    /// <summary>The state before the transition.</summary>
    public ClientPath PreviousPath { get; }

    /// <summary>The state after it (what <see cref="MirrorKvClient.Path"/> said right after it).</summary>
    public ClientPath Path { get; }

    /// <summary>Why it happened.</summary>
    public RouteChangeReason Reason { get; }

    /// <summary>The primary writes go to after the transition (for <see cref="ClientPath.FailingOver"/>: the one that failed); null before any was found.</summary>
    public IPEndPoint? PrimaryEndPoint { get; }

    /// <summary>That primary's epoch (0 before any was found).</summary>
    public ulong Epoch { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{PreviousPath} -> {Path} ({Reason}; primary {PrimaryEndPoint?.ToString() ?? "(none)"} at epoch {Epoch})";
}
