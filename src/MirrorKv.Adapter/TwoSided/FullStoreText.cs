using MirrorKv.Store;

namespace MirrorKv.Adapter;

/// <summary>
/// What a node says when a write finds the store full (OutOfMemory), on the native port and over RESP: why,
/// under the node's eviction policy, and which setting to change. One text for both ports, so an operator
/// meets the same words in a client's exception, a cache's log and redis-cli.
/// </summary>
internal static class FullStoreText
{
    public static string For(EvictionPolicy policy) => policy switch
    {
        EvictionPolicy.NoEviction => "the store is full: no free slot for an entry of this size and no empty slab to move to its size class; nothing changed (delete keys, start the nodes with a larger --max-memory, or with --eviction allkeys-lru for a cache)",
        EvictionPolicy.VolatileTtl => "the store is full and no key with an expiry is left to evict (--eviction volatile-ttl evicts only those); nothing changed (delete keys, write keys with a TTL, or start the nodes with a larger --max-memory or --eviction allkeys-lru)",
        _ => $"the store is full and nothing could be evicted for an entry of this size under --eviction {EvictionPolicyNames.Name(policy)}; nothing changed (start the nodes with a larger --max-memory)",
    };
}
