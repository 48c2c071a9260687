using System.Buffers.Binary;
using System.IO.Hashing;
using System.Numerics;
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
/// <remarks>Not thread-safe: the store engine calls it under its lock.</remarks>
public sealed class KeyIndex
{
    // Grow at 3/4 load: linear probing's expected probes stay under 3 for hits and 9 for misses.
    private const int LoadNumerator = 3;
    private const int LoadDenominator = 4;
    private const int MaxBits = 30;

    private readonly MemoryChunks _memory;
    private ulong[] _buckets;
    private int _bits;
    private int _growAt;

    /// <summary>
    /// Creates an index whose keys live in <paramref name="memory"/> (its offset space: at most 64 GiB, since
    /// a bucket holds a 32-bit slot number).
    /// </summary>
    public KeyIndex(MemoryChunks memory, int initialCapacity = 1024)
    {
        ArgumentNullException.ThrowIfNull(memory);
        _memory = memory;
        _bits = Math.Clamp(BitOperations.Log2(BitOperations.RoundUpToPowerOf2((uint)Math.Max(initialCapacity, 16))), 4, MaxBits);
        _buckets = new ulong[1 << _bits];
        _growAt = _buckets.Length / LoadDenominator * LoadNumerator;
    }

    /// <summary>Keys indexed.</summary>
    public int Count { get; private set; }

    /// <summary>Buckets allocated.</summary>
    public int Capacity => _buckets.Length;

    /// <summary>Bytes the index uses.</summary>
    public long MemoryBytes => (long)_buckets.Length * sizeof(ulong);

    /// <summary>True when the next new key makes the index double (its bytes with it) before it goes in.</summary>
    public bool GrowsOnNextInsert => Count >= _growAt && _bits < MaxBits;

    /// <summary>The most slot numbers a bucket can hold: the offset space it addresses, in bytes.</summary>
    public const ulong MaxAddressableBytes = (ulong)uint.MaxValue * SizeClassTable.Granularity;

    /// <summary>Bytes an index holding <paramref name="keys"/> keys takes at most (it doubles at 3/4 load).</summary>
    public static long BytesFor(long keys)
    {
        long buckets = 16;
        while (buckets / LoadDenominator * LoadNumerator < keys && buckets < (1L << MaxBits))
        {
            buckets <<= 1;
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
                Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_buckets), (int)(Tag(hash) >> (32 - _bits)))));
            }
        }
    }

    /// <summary>Grows the index once, now, to hold <paramref name="count"/> keys without growing again (as far as its limit allows).</summary>
    public void Reserve(int count)
    {
        int bits = _bits;
        while (bits < MaxBits && (1L << bits) / LoadDenominator * LoadNumerator < count)
        {
            bits++;
        }

        if (bits > _bits)
        {
            Rehash(bits);
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
        int mask = _buckets.Length - 1;
        int hole = position;
        int next = position;
        while (true)
        {
            next = (next + 1) & mask;
            ulong candidate = _buckets[next];
            if (candidate == 0)
            {
                break;
            }

            // The candidate may move back into the hole only if its home is not cyclically in (hole, next].
            int home = Home(candidate, _bits);
            bool staysPut = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);
            if (!staysPut)
            {
                _buckets[hole] = candidate;
                hole = next;
            }
        }

        _buckets[hole] = 0;
        Count--;
        return true;
    }

    // The key's bucket, or (negative) the complement of the empty bucket where it would go.
    private int Find(ReadOnlySpan<byte> key, ulong hash)
    {
        uint tag = Tag(hash);
        ulong[] buckets = _buckets;
        int mask = buckets.Length - 1;
        int position = (int)(tag >> (32 - _bits));
        while (true)
        {
            ulong bucket = buckets[position];
            if (bucket == 0)
            {
                // Not found: the complement of the empty bucket that ends the probe, where an insert goes.
                return ~position;
            }

            if ((uint)(bucket >> 32) == tag && KeyAt(OffsetOf(bucket)).SequenceEqual(key))
            {
                return position;
            }

            position = (position + 1) & mask;
        }
    }

    private ReadOnlySpan<byte> KeyAt(ulong slotOffset)
    {
        Span<byte> header = _memory.GetSpan(slotOffset, EntryLayout.HeaderSize);
        int keyLength = BinaryPrimitives.ReadUInt16LittleEndian(header[EntryLayout.KeyLengthOffset..]);
        return _memory.GetSpan(slotOffset + EntryLayout.HeaderSize, keyLength);
    }

    // emptyPosition: where the probe that missed the key ended, valid while the index does not grow.
    private void Insert(ulong bucket, int emptyPosition)
    {
        if (Count >= _growAt)
        {
            Grow();
            Place(_buckets, _bits, bucket);
        }
        else
        {
            _buckets[emptyPosition] = bucket;
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
        if (_bits == MaxBits)
        {
            throw new InvalidOperationException($"The key index is full ({_buckets.Length} buckets).");
        }

        Rehash(_bits + 1);
    }

    private void Rehash(int bits)
    {
        var buckets = new ulong[1 << bits];
        foreach (ulong bucket in _buckets)
        {
            if (bucket != 0)
            {
                Place(buckets, bits, bucket);
            }
        }

        _buckets = buckets;
        _bits = bits;
        _growAt = buckets.Length / LoadDenominator * LoadNumerator;
    }

    private static void Place(ulong[] buckets, int bits, ulong bucket)
    {
        int mask = buckets.Length - 1;
        int position = Home(bucket, bits);
        while (buckets[position] != 0)
        {
            position = (position + 1) & mask;
        }

        buckets[position] = bucket;
    }

    private static uint Tag(ulong hash) => (uint)(hash >> 32);

    private static int Home(ulong bucket, int bits) => (int)((uint)(bucket >> 32) >> (32 - bits));

    private static ulong Pack(uint tag, ulong slotOffset) => ((ulong)tag << 32) | ((slotOffset / SizeClassTable.Granularity) + 1);

    private static ulong OffsetOf(ulong bucket) => ((bucket & uint.MaxValue) - 1) * SizeClassTable.Granularity;
}
