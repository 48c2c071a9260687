namespace MirrorKv.Protocol;

/// <summary>What a node can hold, as its HELLO reply tells a peer adapter (1.6): a secondary needs at least its primary's.</summary>
/// <param name="MaxMemory">The store's memory limit in bytes (<c>--max-memory</c>).</param>
/// <param name="MaxValueLength">The largest value a write may store, in bytes (<c>--max-value-size</c>, capped by the memory limit).</param>
public readonly record struct NodeLimits(ulong MaxMemory, uint MaxValueLength);
