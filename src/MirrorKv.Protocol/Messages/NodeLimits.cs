namespace MirrorKv.Protocol;

/// <summary>
/// What a node can hold and how it keeps it, as its HELLO reply tells a peer adapter (1.6): a secondary needs at least
/// its primary's limits, and the same eviction policy and replication mode, since after a failover it is the primary.
/// </summary>
/// <param name="MaxMemory">The store's memory limit in bytes (<c>--max-memory</c>).</param>
/// <param name="MaxValueLength">The largest value a write may store, in bytes (<c>--max-value-size</c>, capped by the memory limit).</param>
/// <param name="Eviction">The eviction policy's code plus one (<c>--eviction</c>: 1 noeviction, 2 allkeys-lru, 3 allkeys-lfu, 4 volatile-ttl); 0: not told (a node before this field).</param>
/// <param name="Replication">The replication mode (<c>--replication</c>: 1 sync, 2 async); 0: not told.</param>
public readonly record struct NodeLimits(ulong MaxMemory, uint MaxValueLength, byte Eviction = 0, byte Replication = 0);
