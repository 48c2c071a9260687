namespace MirrorKv.Client;

/// <summary>Why a client's route changed (see <see cref="MirrorKvClient.RouteChanged"/>).</summary>
public enum RouteChangeReason
{
    /// <summary>The client found its first primary (<see cref="ClientPath.Connecting"/> to <see cref="ClientPath.Primary"/>).</summary>
    Connected,

    /// <summary>The primary's connection failed, timed out, or the primary refused as no longer primary: reads move to the secondary.</summary>
    PrimaryFailed,

    /// <summary>The local table was rewritten from the secondary's translation: reads are one-sided at the secondary.</summary>
    TableRewritten,

    /// <summary>Writes follow a node serving as primary at a higher epoch than the client's primary had (a promotion).</summary>
    PromotionFollowed,

    /// <summary>
    /// Writes go to a new incarnation serving as primary at an epoch no higher than the client's primary had:
    /// the pair was restarted, and what it held before is gone.
    /// </summary>
    PrimaryRestarted,

    /// <summary>The same primary (same incarnation, same epoch) serves again, e.g. after its lease came back.</summary>
    PrimaryResumed,

    /// <summary>The client was disposed, or <see cref="MirrorKvClient.ConnectAsync"/> gave up.</summary>
    Closed,
}
