using System.Numerics;
using MirrorKv.Entries;

namespace MirrorKv.Store;

/// <summary>Tunables of a store engine. Immutable; <see cref="Validate"/> runs once at construction.</summary>
public sealed record StoreOptions
{
    /// <summary>The defaults.</summary>
    public static StoreOptions Default { get; } = new();

    /// <summary>
    /// The memory limit, as redis's <c>maxmemory</c>: the store's registered chunks (keys, values, entry headers
    /// and the free room of claimed slabs), its key index and, under LRU or LFU, its access table together stay
    /// at or below it. Memory is registered in chunks as the store fills (see <see cref="MaxChunkSize"/>), so a
    /// store holding little uses little whatever the limit. When a write finds no room and no chunk fits under
    /// the limit, the store is full: <see cref="Eviction"/> decides. 256 MiB by default (about 1.6 million
    /// entries of 16-byte keys and 100-byte values), as the single region of earlier versions; at most 64 GiB
    /// (the index stores 32-bit slot numbers).
    /// </summary>
    public ulong MaxMemory { get; init; } = 256UL << 20;

    /// <summary>The old name of <see cref="MaxMemory"/>, from when a store registered one region of this size up front.</summary>
    [Obsolete("Use MaxMemory: a store now registers memory in chunks as it fills, up to this limit.")]
    public ulong RegionSize
    {
        get => MaxMemory;
        init => MaxMemory = value;
    }

    /// <summary>
    /// The largest chunk: a store registers its first chunk of one slab, then chunks as large as all it holds so
    /// far (doubling its memory each time), up to this size, and a last one cut to what the limit leaves. Null
    /// (the default) means 64 MiB, or <see cref="MaxMemory"/> / 128 when that is larger, so that a node never
    /// has more than about 140 regions (a HELLO reply lists at most 255). Small chunks keep resident memory close
    /// to what the data needs; large ones mean fewer rkeys and fewer registrations (on Linux a registration only maps
    /// the chunk; its pages are zero-filled by the kernel as writes first touch them).
    /// </summary>
    public ulong? MaxChunkSize { get; init; }

    /// <summary>The largest chunk in force: <see cref="MaxChunkSize"/>, or its default.</summary>
    public ulong EffectiveMaxChunkSize
    {
        get
        {
            if (MaxChunkSize is { } size)
            {
                return size;
            }

            ulong slab = (ulong)Math.Max(SlabSize, 1);
            ulong derived = Math.Max(64UL << 20, (MaxMemory / 128 + slab - 1) / slab * slab);
            return Math.Min(Math.Max(derived, slab), MaxChunkLimit);
        }
    }

    /// <summary>
    /// The chunk registered when the store is created, before any write. Null (the default) means one slab, so
    /// that an idle node holds almost nothing; a larger first chunk saves the first registrations of a store that
    /// will surely fill (and gives tests one region as large as they need). A multiple of the slab size, at most
    /// <see cref="MaxMemory"/> and 1 GiB.
    /// </summary>
    public ulong? FirstChunkSize { get; init; }

    /// <summary>Most regions a store registers: a HELLO reply lists a node's regions with a one-byte count.</summary>
    public const int MaxChunks = 255;

    /// <summary>Largest chunk: a REPLICATE record announces a region's length in 32 bits.</summary>
    public const ulong MaxChunkLimit = 1UL << 30;

    /// <summary>Largest <see cref="MaxMemory"/>: the index addresses 64 GiB of slots.</summary>
    public const ulong MaxMemoryLimit = 64UL << 30;

    /// <summary>
    /// Slab size: 1 MiB as in DESIGN.md. Large enough that the per-slab translation table stays small
    /// (256 entries for 256 MiB) and any value up to ~1 MB fits one slot; a larger value takes several
    /// slabs in a row (a large entry, see <see cref="MaxValueLength"/>).
    /// </summary>
    public int SlabSize { get; init; } = 1 << 20;

    /// <summary>Largest key. 1 KiB: cache keys are short; a longer one is almost always a bug.</summary>
    public int MaxKeyLength { get; init; } = 1024;

    /// <summary>The default value limit: 16 MiB, room for the rendered pages and API responses caches hold.</summary>
    public const int DefaultMaxValueLength = 16 << 20;

    /// <summary>
    /// The largest value limit: a WRITE of the value must fit one frame of at most 64 MiB (docs/protocol.md), and
    /// the entry one chunk.
    /// </summary>
    public const int MaxValueLengthLimit = (64 << 20) - (64 << 10);

    /// <summary>
    /// Largest value; null (the default) means <see cref="DefaultMaxValueLength"/>, or less when the largest chunk
    /// (<see cref="EffectiveMaxChunkSize"/>, cut to <see cref="MaxMemory"/>) cannot hold an entry that large. A value
    /// that fits one slab next to its header and key lives in a slot of a size class; a larger one is a large entry:
    /// one slot over several slabs in a row of one chunk, mirrored the same way on the secondary (see the Store
    /// README, "Large values"). A larger value is refused with <see cref="StoreStatus.ValueTooLarge"/>.
    /// </summary>
    public int? MaxValueLength { get; init; }

    /// <summary>The largest value in force: <see cref="MaxValueLength"/>, or its default.</summary>
    public int EffectiveMaxValueLength =>
        MaxValueLength ?? (int)Math.Clamp((long)Math.Min(EffectiveMaxChunkSize, MaxMemory / (ulong)Math.Max(SlabSize, 1) * (ulong)Math.Max(SlabSize, 1)) - SizeClassTable.Granularity - EntryLayout.HeaderSize - MaxKeyLength, 0, DefaultMaxValueLength);

    /// <summary>Bytes of the largest entry (header, largest key and value), rounded up to a slot boundary.</summary>
    public long MaxEntrySize => SizeClassTable.SpanSlotSize((long)EntryLayout.HeaderSize + MaxKeyLength + EffectiveMaxValueLength);

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

    /// <summary>Initial index buckets; it grows as needed, so this only saves early rehashing.</summary>
    public int InitialIndexCapacity { get; init; } = 1024;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first option that is out of range.</summary>
    public void Validate()
    {
        if (SlabSize < 4096 || !BitOperations.IsPow2(SlabSize))
        {
            throw new ArgumentException($"SlabSize must be a power of two of at least 4096 bytes; got {SlabSize}.");
        }

        if (MaxMemory < (ulong)SlabSize)
        {
            throw new ArgumentException($"MaxMemory must hold at least one slab ({SlabSize} bytes); got {MaxMemory}.");
        }

        if (MaxMemory > MaxMemoryLimit)
        {
            throw new ArgumentException($"MaxMemory must be at most 64 GiB (the index stores 32-bit slot numbers); got {MaxMemory}.");
        }

        ulong chunk = EffectiveMaxChunkSize;
        if (chunk < (ulong)SlabSize || chunk % (ulong)SlabSize != 0 || chunk > MaxChunkLimit)
        {
            throw new ArgumentException($"MaxChunkSize must be a positive multiple of SlabSize ({SlabSize}) of at most 1 GiB; got {chunk}.");
        }

        if (FirstChunkSize is { } first && (first < (ulong)SlabSize || first % (ulong)SlabSize != 0 || first > MaxChunkLimit || first > MaxMemory))
        {
            throw new ArgumentException($"FirstChunkSize must be a positive multiple of SlabSize ({SlabSize}) of at most 1 GiB and at most MaxMemory ({MaxMemory}); got {first}.");
        }

        // The doubling chunks below the largest, plus the largest ones, plus a last one cut short.
        ulong chunks = (ulong)BitOperations.Log2(chunk / (ulong)SlabSize) + 1 + (MaxMemory / chunk) + 1;
        if (chunks > MaxChunks)
        {
            throw new ArgumentException($"MaxChunkSize {chunk} is too small for MaxMemory {MaxMemory}: a node could need {chunks} regions, and registers at most {MaxChunks}.");
        }

        if (MaxKeyLength is < 1 or > EntryLayout.MaxKeyLength)
        {
            throw new ArgumentException($"MaxKeyLength must be between 1 and {EntryLayout.MaxKeyLength}; got {MaxKeyLength}.");
        }

        if (MaxValueLength is < 0 or > MaxValueLengthLimit)
        {
            throw new ArgumentException($"MaxValueLength must be between 0 and {MaxValueLengthLimit} bytes (a WRITE of the value must fit one frame of at most 64 MiB); got {MaxValueLength}.");
        }

        ulong largestChunk = Math.Min(chunk, MaxMemory / (ulong)SlabSize * (ulong)SlabSize);
        if ((ulong)MaxEntrySize > largestChunk)
        {
            throw new ArgumentException($"MaxValueLength (--max-value-size) {EffectiveMaxValueLength} is too large for this store: an entry with the largest key and value ({MaxEntrySize} bytes) must fit the largest chunk ({largestChunk} bytes: MaxChunkSize, at most MaxMemory, --max-memory).");
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
