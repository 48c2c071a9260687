namespace MirrorKv.Adapter;

/// <summary>When a secondary may answer FAILOVER_READ: only while it can vouch that it holds every acknowledged write.</summary>
public sealed partial class MirrorKvNode
{
    /// <summary>
    /// Whether this node, as a secondary, holds every write the primary has acknowledged, so that a
    /// FAILOVER_READ it answers is no older than any of them, even while the primary lives (a hedged or
    /// balanced read). Promoting and primary nodes always do; a rejoining, fenced or stopped one never.
    /// </summary>
    /// <remarks>
    /// In sync mode the primary acknowledges a write only once this secondary applied it, unless it goes on
    /// alone. In pair mode it goes on alone only when this secondary cannot have been told the pair is
    /// protected (then <see cref="SecondaryLink.SawProtected"/> is false here), or when nothing listens at this
    /// secondary's endpoint any more (this process is gone, so it answers nothing). With a witness the primary
    /// may drop a live secondary behind a cut link that keeps the dropped flag from it, and go on alone: such a
    /// secondary cannot tell from its link, so with a coordinator it answers only while its read lease holds
    /// (renewed by its primary's grants while etcd's in-sync key names it, or by etcd itself; a primary that clears
    /// that key waits out the lease before it acknowledges anything alone: <see cref="MayServeReads"/>). A diverged secondary stopped applying the
    /// stream. See docs/failover.md, "Hedged reads" and "Publish after replication".
    /// </remarks>
    internal bool HoldsEveryAcknowledgedWrite => Role switch
    {
        Protocol.NodeRole.Primary or Protocol.NodeRole.Promoting => true,
        Protocol.NodeRole.Secondary => _link is { SawProtected: true, Dropped: false, Diverged: false } && MayServeReads,
        _ => false,
    };
}
