namespace MirrorKv.Client;

/// <summary>Counters of what a client did, for demos, tests and metrics.</summary>
/// <param name="Reads">One-sided READs sent (to either node).</param>
/// <param name="FailoverReads">FAILOVER_READs sent to the secondary with primary pointers.</param>
/// <param name="Lookups">LOOKUPs sent (no pointer, or the pointer went stale).</param>
/// <param name="TornRetries">READs repeated because the copy raced a writer.</param>
/// <param name="RetriedAfterFailure">Reads and writes retried because a node failed or timed out under them, or refused a write it no longer takes.</param>
/// <param name="TableRewrites">Times the local table was rewritten from a translation.</param>
/// <param name="RewrittenPointers">Pointers rewritten in total.</param>
/// <param name="TranslationDeltas">Distinct slab deltas in the last translation fetched (0 before any).</param>
public readonly record struct ClientStats(long Reads, long FailoverReads, long Lookups, long TornRetries, long RetriedAfterFailure, long TableRewrites, long RewrittenPointers, int TranslationDeltas)
{
    /// <summary>READs also sent to the other node because the first had not answered within the hedge delay, or refused.</summary>
    public long HedgedReads { get; init; }

    /// <summary>Hedged READs whose answer came from the other node.</summary>
    public long HedgeWins { get; init; }
}
