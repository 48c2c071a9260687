using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using MirrorKv.Entries;
using MirrorKv.Memory;

namespace MirrorKv.Store;

/// <summary>
/// key -> slot offset. Open addressing with linear probing over one array of 8-byte buckets:
/// the high 32 bits of the key's XxHash3 (the tag) and the slot offset / 16 + 1 (0 marks an empty
/// bucket). Keys are not copied: a candidate whose tag matches is confirmed against the key stored
/// in its slot. Lookups allocate nothing; deletions shift later buckets back instead of leaving
/// tombstones, so probe lengths do not decay under churn.
/// </summary>
/// <remarks>
/// <para>Not thread-safe: the store engine calls it under its lock.</para>
/// <para><b>Why Robin Hood, 9/10 load and growth by a quarter.</b> The index is most of what an entry costs beyond
/// its header (8 bytes a bucket divided by the load). Doubling a power-of-two table at 3/4 load kept the load
/// between 3/8 and 3/4: 10.7 to 21.3 bytes a key. Here a key's home is its tag scaled to the table
/// (<c>tag * capacity >> 32</c>), so any capacity works, and the table grows by a quarter at 9/10 load: the
/// load stays between 0.72 and 0.9, 8.9 to 11.1 bytes a key. Plain linear probing at 0.9 would probe about 50
/// buckets to miss; keeping each run of buckets ordered by home (Robin Hood) ends a miss where a bucket nearer
/// its home than the search is to its own, so a miss costs about what a hit does (about 5.5 buckets at 0.9, 44
/// bytes, one or two cache lines). Growing by a quarter rehashes more often than doubling (about five moves per
/// key over its life instead of two) and keeps the old and new arrays together at 2.25 times the old's size
/// instead of 3.</para>
/// </remarks>
public sealed class KeyIndex
{
    // Grow at 9/10 load, by a quarter: see the remarks.
    private const int LoadNumerator = 9;
    private const int LoadDenominator = 10;
    private const int MinCapacity = 16;
    private const int MaxCapacity = 1 << 30;

    private readonly MemoryChunks _memory;
    private ulong[] _buckets;
    private int _growAt;

    /// <summary>
    /// Creates an index whose keys live in <paramref name="memory"/> (its offset space: at most 64 GiB, since
    /// a bucket holds a 32-bit slot number).
    /// </summary>
    public KeyIndex(MemoryChunks memory, int initialCapacity = 1024)
    {
        ArgumentNullException.ThrowIfNull(memory);
        _memory = memory;
        long capacity = MinCapacity;
        while (capacity < initialCapacity && capacity < MaxCapacity)
        {
            capacity = NextCapacity(capacity);
        }

        _buckets = new ulong[capacity];
        _growAt = GrowAt(_buckets.Length);
    }

    /// <summary>Keys indexed.</summary>
    public int Count { get; private set; }

    /// <summary>Buckets allocated.</summary>
    public int Capacity => _buckets.Length;

    /// <summary>Bytes the index uses.</summary>
    public long MemoryBytes => (long)_buckets.Length * sizeof(ulong);

    /// <summary>The buckets, for a pass over every key (<see cref="OffsetOf"/>; 0 is an empty bucket).</summary>
    internal ReadOnlySpan<ulong> Buckets => _buckets;

    /// <summary>True when the next new key makes the index grow (by <see cref="GrowthBytes"/>) before it goes in.</summary>
    public bool GrowsOnNextInsert => Count >= _growAt && _buckets.Length < MaxCapacity;

    /// <summary>Bytes the index's next growth adds to <see cref="MemoryBytes"/>.</summary>
    public long GrowthBytes => (NextCapacity(_buckets.Length) - _buckets.Length) * sizeof(ulong);

    /// <summary>The most slot numbers a bucket can hold: the offset space it addresses, in bytes.</summary>
    public const ulong MaxAddressableBytes = (ulong)uint.MaxValue * SizeClassTable.Granularity;

    /// <summary>Bytes an index holding <paramref name="keys"/> keys takes at most (it grows by a quarter at 9/10 load).</summary>
    public static long BytesFor(long keys)
    {
        long buckets = MinCapacity;
        while (GrowAt(buckets) < keys && buckets < MaxCapacity)
        {
            buckets = NextCapacity(buckets);
        }

        return buckets * sizeof(ulong);
    }

    /// <summary>The hash the index uses for a key.</summary>
    public static ulong Hash(ReadOnlySpan<byte> key) => XxHash3.HashToUInt64(key);

    /// <summary>Finds the slot of <paramref name="key"/>.</summary>
    public bool TryGet(ReadOnlySpan<byte> key, ulong hash, out ulong slotOffset)
    {
        int position = Find(key, hash);
        slotOffset = position >= 0 ? OffsetOf(_buckets[position]) : 0;
        return position >= 0;
    }

    /// <summary>Points <paramref name="key"/> at <paramref name="slotOffset"/>; the slot must already hold the key.</summary>
    /// <returns>True when the key was added, false when it was already indexed (it now points at the new slot).</returns>
    public bool Set(ReadOnlySpan<byte> key, ulong hash, ulong slotOffset)
    {
        CheckSlotOffset(slotOffset);
        ulong bucket = Pack(Tag(hash), slotOffset);
        int position = Find(key, hash);
        if (position >= 0)
        {
            _buckets[position] = bucket;
            return false;
        }

        Insert(bucket, ~position);
        return true;
    }

    /// <summary>
    /// Points <paramref name="key"/> at <paramref name="slotOffset"/>, which holds it at <paramref name="version"/>,
    /// unless the key is indexed at another slot whose entry is newer: a secondary that applies slot images out of
    /// order (a copied slab beside the stream) keeps each key at its newest slot.
    /// </summary>
    /// <returns>False when the index kept the newer slot.</returns>
    public bool SetUnlessNewer(ReadOnlySpan<byte> key, ulong hash, ulong slotOffset, ulong version)
    {
        CheckSlotOffset(slotOffset);
        ulong bucket = Pack(Tag(hash), slotOffset);
        int position = Find(key, hash);
        if (position < 0)
        {
            Insert(bucket, ~position);
            return true;
        }

        ulong current = OffsetOf(_buckets[position]);
        if (current != slotOffset && EntryCodec.ReadVersion(_memory.GetSpan(current, sizeof(ulong))) > version)
        {
            return false;
        }

        _buckets[position] = bucket;
        return true;
    }

    /// <summary>Starts loading the bucket where a search for <paramref name="hash"/> begins, so that many keys' misses overlap.</summary>
    public void Prefetch(ulong hash)
    {
        if (Sse.IsSupported)
        {
            unsafe
            {
                ulong[] buckets = _buckets;
                Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(buckets), HomeOf(Tag(hash), buckets.Length))));
            }
        }
    }

    /// <summary>Grows the index once, now, to hold <paramref name="count"/> keys without growing again (as far as its limit allows).</summary>
    public void Reserve(int count)
    {
        long capacity = _buckets.Length;
        while (capacity < MaxCapacity && GrowAt(capacity) < count)
        {
            capacity = NextCapacity(capacity);
        }

        if (capacity > _buckets.Length)
        {
            Rehash((int)capacity);
        }
    }

    /// <summary>Removes <paramref name="key"/> and says where its slot was.</summary>
    public bool Remove(ReadOnlySpan<byte> key, ulong hash, out ulong slotOffset)
    {
        int position = Find(key, hash);
        if (position < 0)
        {
            slotOffset = 0;
            return false;
        }

        slotOffset = OffsetOf(_buckets[position]);
        RemoveAt(position);
        return true;
    }

    /// <summary>
    /// Removes the key of hash <paramref name="hash"/> indexed at <paramref name="slotOffset"/>, a slot the caller
    /// proved holds it: the search compares buckets only and reads no key from the region.
    /// </summary>
    public bool RemoveSlot(ulong hash, ulong slotOffset)
    {
        ulong wanted = Pack(Tag(hash), slotOffset);
        ulong[] buckets = _buckets;
        int position = HomeOf(Tag(hash), buckets.Length);
        for (int distance = 0; ; distance++)
        {
            ulong bucket = buckets[position];
            if (bucket == 0 || Distance(bucket, position, buckets.Length) < distance)
            {
                return false;
            }

            if (bucket == wanted)
            {
                RemoveAt(position);
                return true;
            }

            position = position + 1 == buckets.Length ? 0 : position + 1;
        }
    }

    private void RemoveAt(int position)
    {
        // Backward shift: the buckets after the hole that are not at their home move back by one, which keeps
        // every run ordered by home; the first empty bucket or bucket at its home ends the run.
        ulong[] buckets = _buckets;
        int hole = position;
        while (true)
        {
            int next = hole + 1 == buckets.Length ? 0 : hole + 1;
            ulong candidate = buckets[next];
            if (candidate == 0 || Distance(candidate, next, buckets.Length) == 0)
            {
                break;
            }

            buckets[hole] = candidate;
            hole = next;
        }

        buckets[hole] = 0;
        Count--;
    }

    // The key's bucket, or (negative) the complement of the bucket where it would go: an empty one, or the first
    // whose key is nearer its home than this key would be to its own (Robin Hood: the run is ordered by home).
    private int Find(ReadOnlySpan<byte> key, ulong hash)
    {
        uint tag = Tag(hash);
        ulong[] buckets = _buckets;
        int position = HomeOf(tag, buckets.Length);
        for (int distance = 0; ; distance++)
        {
            ulong bucket = buckets[position];
            if (bucket == 0 || Distance(bucket, position, buckets.Length) < distance)
            {
                return ~position;
            }

            if ((uint)(bucket >> 32) == tag && KeyAt(OffsetOf(bucket)).SequenceEqual(key))
            {
                return position;
            }

            position = position + 1 == buckets.Length ? 0 : position + 1;
        }
    }

    private ReadOnlySpan<byte> KeyAt(ulong slotOffset)
    {
        Span<byte> header = _memory.GetSpan(slotOffset, EntryLayout.HeaderSize);
        int keyLength = BinaryPrimitives.ReadUInt16LittleEndian(header[EntryLayout.KeyLengthOffset..]);
        return _memory.GetSpan(slotOffset + EntryLayout.HeaderSize, keyLength);
    }

    // position: where the search that missed the key ended, valid while the index does not grow.
    private void Insert(ulong bucket, int position)
    {
        if (Count >= _growAt)
        {
            Grow();
            Place(_buckets, bucket);
        }
        else
        {
            ShiftIn(_buckets, bucket, position);
        }

        Count++;
    }

    private void CheckSlotOffset(ulong slotOffset)
    {
        if (slotOffset % SizeClassTable.Granularity != 0 || slotOffset >= _memory.Length || slotOffset >= MaxAddressableBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(slotOffset), slotOffset, "Not a slot offset of the store's memory.");
        }
    }

    private void Grow()
    {
        if (_buckets.Length >= MaxCapacity)
        {
            throw new InvalidOperationException($"The key index is full ({_buckets.Length} buckets).");
        }

        Rehash((int)NextCapacity(_buckets.Length));
    }

    private void Rehash(int capacity)
    {
        var buckets = new ulong[capacity];
        foreach (ulong bucket in _buckets)
        {
            if (bucket != 0)
            {
                Place(buckets, bucket);
            }
        }

        _buckets = buckets;
        _growAt = GrowAt(capacity);
    }

    // A bucket whose key is not in the table: after every bucket of its run with a home at or before its own.
    private static void Place(ulong[] buckets, ulong bucket)
    {
        int position = HomeOf((uint)(bucket >> 32), buckets.Length);
        for (int distance = 0; ; distance++)
        {
            ulong resident = buckets[position];
            if (resident == 0 || Distance(resident, position, buckets.Length) < distance)
            {
                ShiftIn(buckets, bucket, position);
                return;
            }

            position = position + 1 == buckets.Length ? 0 : position + 1;
        }
    }

    // Puts the bucket at position and moves the rest of the run (up to the first empty bucket) on by one.
    private static void ShiftIn(ulong[] buckets, ulong bucket, int position)
    {
        while (bucket != 0)
        {
            (buckets[position], bucket) = (bucket, buckets[position]);
            position = position + 1 == buckets.Length ? 0 : position + 1;
        }
    }

    private static long NextCapacity(long capacity) => Math.Min(MaxCapacity, (capacity + (capacity / 4) + MinCapacity - 1) / MinCapacity * MinCapacity);

    private static int GrowAt(long capacity) => (int)(capacity * LoadNumerator / LoadDenominator);

    private static uint Tag(ulong hash) => (uint)(hash >> 32);

    // The tag scaled to the table (Lemire's multiply-shift): uniform over any capacity, and monotonic in the tag.
    private static int HomeOf(uint tag, int capacity) => (int)(((ulong)tag * (ulong)capacity) >> 32);

    // How far the bucket at position is from its home, the run wrapping at the end of the array.
    private static int Distance(ulong bucket, int position, int capacity)
    {
        int distance = position - HomeOf((uint)(bucket >> 32), capacity);
        return distance < 0 ? distance + capacity : distance;
    }

    private static ulong Pack(uint tag, ulong slotOffset) => ((ulong)tag << 32) | ((slotOffset / SizeClassTable.Granularity) + 1);

    /// <summary>The slot offset a non-empty bucket holds.</summary>
    internal static ulong OffsetOf(ulong bucket) => ((bucket & uint.MaxValue) - 1) * SizeClassTable.Granularity;
}
