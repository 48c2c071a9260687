using System.Net;
using MirrorKv.Protocol;
using MirrorKv.Store;

namespace MirrorKv.Adapter;

/// <summary>
/// The limits and policies a node tells a peer in its HELLO reply (<see cref="NodeLimits"/>), and the check a secondary
/// makes of its primary's: it must hold at least as much, and keep it the same way, because after a failover it is the
/// primary. A secondary with another eviction policy would evict, once promoted, keys a noeviction pair promised to keep
/// (or keep refusing writes an evicting pair took); one with another replication mode would acknowledge writes before
/// its own secondary has them, or stop doing so, without anyone having asked for it.
/// </summary>
internal static class PeerLimits
{
    /// <summary>This node's, for its HELLO reply to a peer adapter.</summary>
    public static NodeLimits Of(StoreOptions store, ReplicationMode replication) =>
        new(store.MaxMemory, (uint)store.EffectiveMaxValueLength, (byte)((byte)store.Eviction + 1), replication == ReplicationMode.Sync ? (byte)1 : (byte)2);

    /// <summary>Why this node cannot follow a primary with these limits, with what to change; null when it can.</summary>
    public static string? Problem(NodeLimits primary, EndPoint primaryEndPoint, StoreOptions store, ReplicationMode replication)
    {
        NodeLimits mine = Of(store, replication);
        if (primary.MaxMemory > mine.MaxMemory || primary.MaxValueLength > mine.MaxValueLength)
        {
            return $"the primary at {primaryEndPoint} holds up to {primary.MaxMemory} bytes (--max-memory) with values up to {primary.MaxValueLength} bytes, this node only {mine.MaxMemory} with values up to {mine.MaxValueLength}: a secondary needs at least its primary's limits, or it could not hold writes the primary acknowledges (start it with the primary's --max-memory and --max-value-size, or more)";
        }

        // 0: a primary that does not say (older than this field): nothing to compare.
        if (primary.Eviction != 0 && primary.Eviction != mine.Eviction)
        {
            string theirs = EvictionName(primary.Eviction), ours = EvictionPolicyNames.Name(store.Eviction);
            return $"the primary at {primaryEndPoint} runs --eviction {theirs}, this node --eviction {ours}: both nodes of a pair need the same policy, or a failover would change which keys the pair may drop (start this node with --eviction {theirs})";
        }

        if (primary.Replication != 0 && primary.Replication != mine.Replication)
        {
            string theirs = ReplicationName(primary.Replication), ours = ReplicationName(mine.Replication);
            return $"the primary at {primaryEndPoint} runs --replication {theirs}, this node --replication {ours}: both nodes of a pair need the same mode, or a failover would change what an acknowledged write survives (start this node with --replication {theirs})";
        }

        return null;
    }

    private static string EvictionName(byte code) =>
        code is >= 1 and <= (byte)EvictionPolicy.VolatileTtl + 1 ? EvictionPolicyNames.Name((EvictionPolicy)(code - 1)) : $"(unknown policy {code - 1})";

    private static string ReplicationName(byte code) => code switch { 1 => "sync", 2 => "async", _ => $"(unknown mode {code})" };
}
