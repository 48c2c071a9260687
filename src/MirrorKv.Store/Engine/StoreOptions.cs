using System.Numerics;

namespace MirrorKv.Store;

/// <summary>Tunables of a store engine. Immutable; <see cref="Validate"/> runs once at construction.</summary>
public sealed record StoreOptions
{
    /// <summary>The defaults.</summary>
    public static StoreOptions Default { get; } = new();

    /// <summary>
    /// Bytes of registered memory. 256 MiB holds about 1.7 million entries of 16-byte keys and 100-byte
    /// values, enough for a demo and the tests, and is committed at once (registration zeroes it).
    /// </summary>
    public ulong RegionSize { get; init; } = 256UL << 20;

    /// <summary>
    /// Slab size: 1 MiB as in DESIGN.md. Large enough that the per-slab translation table stays small
    /// (256 entries for the default region) and any value up to ~1 MB fits one slot.
    /// </summary>
    public int SlabSize { get; init; } = 1 << 20;

    /// <summary>Largest key. 1 KiB: cache keys are short; a longer one is almost always a bug.</summary>
    public int MaxKeyLength { get; init; } = 1024;

    /// <summary>
    /// Largest value; null (the default) means the largest that fits one slab next to a header and the
    /// largest key: entries never cross a slab, so nothing larger could be stored anyway.
    /// </summary>
    public int? MaxValueLength { get; init; }

    /// <summary>The largest value in force: <see cref="MaxValueLength"/>, or what one slab allows.</summary>
    public int EffectiveMaxValueLength => MaxValueLength ?? (SlabSize - EntryLayout.HeaderSize - MaxKeyLength);

    /// <summary>Order in which slabs are claimed; the secondary uses <see cref="SlabOrder.Descending"/>.</summary>
    public SlabOrder SlabOrder { get; init; } = SlabOrder.Ascending;

    /// <summary>
    /// What a write that finds no room does. <see cref="EvictionPolicy.NoEviction"/> by default, as in redis: a
    /// store of record must not lose keys silently; a cache should say <see cref="EvictionPolicy.AllKeysLru"/> (or
    /// <see cref="EvictionPolicy.AllKeysLfu"/> when a few keys take most reads for a long time).
    /// </summary>
    public EvictionPolicy Eviction { get; init; } = EvictionPolicy.NoEviction;

    /// <summary>
    /// Under <see cref="EvictionPolicy.AllKeysLfu"/>: how long a key goes unread for its counter to drop by one
    /// (redis's <c>lfu-decay-time</c>, same default of one minute). The hand applies it as it passes a slot, by
    /// the time its previous turn took; <see cref="TimeSpan.Zero"/> drops a counter by one at every pass, as
    /// redis's 0 does at every scan.
    /// </summary>
    public TimeSpan LfuDecayTime { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Initial index buckets; it doubles as needed, so this only saves early rehashing.</summary>
    public int InitialIndexCapacity { get; init; } = 1024;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first option that is out of range.</summary>
    public void Validate()
    {
        if (SlabSize < 4096 || !BitOperations.IsPow2(SlabSize))
        {
            throw new ArgumentException($"SlabSize must be a power of two of at least 4096 bytes; got {SlabSize}.");
        }

        if (RegionSize == 0 || RegionSize % (ulong)SlabSize != 0)
        {
            throw new ArgumentException($"RegionSize must be a positive multiple of SlabSize ({SlabSize}); got {RegionSize}.");
        }

        if (RegionSize > 64UL << 30)
        {
            throw new ArgumentException($"RegionSize must be at most 64 GiB (the index stores 32-bit slot numbers); got {RegionSize}.");
        }

        if (MaxKeyLength is < 1 or > EntryLayout.MaxKeyLength)
        {
            throw new ArgumentException($"MaxKeyLength must be between 1 and {EntryLayout.MaxKeyLength}; got {MaxKeyLength}.");
        }

        if (EffectiveMaxValueLength < 0 || (long)EntryLayout.HeaderSize + MaxKeyLength + EffectiveMaxValueLength > SlabSize)
        {
            throw new ArgumentException($"An entry with the largest key and value ({EntryLayout.HeaderSize} + {MaxKeyLength} + {EffectiveMaxValueLength} bytes) must fit one slab of {SlabSize} bytes.");
        }

        if (!Enum.IsDefined(Eviction))
        {
            throw new ArgumentException($"Eviction must be one of {EvictionPolicyNames.Accepted}; got {Eviction}.");
        }

        if (LfuDecayTime < TimeSpan.Zero)
        {
            throw new ArgumentException($"LfuDecayTime must not be negative; got {LfuDecayTime}.");
        }

        if (InitialIndexCapacity < 1)
        {
            throw new ArgumentException($"InitialIndexCapacity must be positive; got {InitialIndexCapacity}.");
        }
    }
}
