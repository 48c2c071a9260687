namespace MirrorKv.Client;

/// <summary>
/// Where a client's reads go: the state of its failover state machine. The transitions, and what each does, are
/// listed in the package README ("States"); <see cref="MirrorKvClient.RouteChanged"/> reports each one.
/// </summary>
public enum ClientPath
{
    /// <summary>To the primary, one-sided.</summary>
    Primary,

    /// <summary>The primary failed: reads go to the secondary as FAILOVER_READ with primary pointers.</summary>
    FailingOver,

    /// <summary>The table was rewritten: reads go to the secondary one-sided with translated pointers.</summary>
    Secondary,

    /// <summary>
    /// Nowhere yet: <see cref="MirrorKvClient.ConnectAsync"/> is asking the endpoints who the primary is. A client
    /// is handed out only once it left this state.
    /// </summary>
    Connecting,

    /// <summary>Nowhere: the client was disposed (or could not connect). No state follows.</summary>
    Closed,
}
