namespace MirrorKv.Extensions.Caching;

/// <summary>What a cache call does when no node of the pair can serve it.</summary>
public enum CacheUnavailableBehavior
{
    /// <summary>
    /// Reads return a miss and writes are dropped, with a warning logged: the application falls back to its
    /// source of truth, as it does on any miss. The default, because a cache is an optimization and an
    /// outage of both nodes (one node's loss is handled by failover) should not fail requests.
    /// </summary>
    Miss,

    /// <summary>Calls throw <see cref="Client.MirrorKvException"/> with <see cref="Client.MirrorKvError.Unavailable"/>.</summary>
    Fail,
}
