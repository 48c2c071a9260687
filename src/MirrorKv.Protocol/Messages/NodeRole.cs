namespace MirrorKv.Protocol;

/// <summary>Role of a node in its pair, as announced in HELLO replies. The epoch travels with it.</summary>
public enum NodeRole : byte
{
    /// <summary>Unknown or not yet decided.</summary>
    None = 0,

    /// <summary>Takes writes and replicates them.</summary>
    Primary = 1,

    /// <summary>Applies the primary's records; serves READ, FAILOVER_READ, TRANSLATION and LOOKUP.</summary>
    Secondary = 2,

    /// <summary>A secondary taking over under a higher epoch.</summary>
    Promoting = 3,

    /// <summary>Joining as secondary: copying slabs, then replaying the stream.</summary>
    Rejoining = 4,

    /// <summary>
    /// This incarnation of the node is being disposed and serves nothing more: the host is shutting down, or the node
    /// was replaced (a primary fenced for good, or a secondary that lost its primary) and its process runs on,
    /// starting a new incarnation at the same endpoint that rejoins the current primary as secondary. A primary that
    /// stops serving but keeps its incarnation (its lease ran out, it learned of a newer epoch, or it handed over in a
    /// switchover) is <see cref="Fenced"/> until then.
    /// </summary>
    Stopped = 5,

    /// <summary>
    /// A primary that stopped serving because it may no longer be primary: its lease ran out, or it learned
    /// of a newer epoch. It serves no write and no read (its region is withdrawn) until it either renews its
    /// lease over a link that never broke, or rejoins the current primary as secondary.
    /// </summary>
    Fenced = 6,
}
