using System.Numerics;

namespace MirrorKv.Store;

/// <summary>
/// Slot sizes. Every 16 bytes from 32 to 512, where most cache entries fall and rounding waste must
/// stay small (at most 15 bytes); then steps of 1/8 (at most 12.5 % waste) up to the slab size.
/// All sizes are multiples of 16, so slot offsets are too: the index stores them divided by 16.
/// </summary>
public sealed class SizeClassTable
{
    /// <summary>Smallest slot: a header and a short key and value.</summary>
    public const int MinSlotSize = 32;

    /// <summary>Slot sizes and offsets are multiples of this.</summary>
    public const int Granularity = 16;

    private const int LinearLimit = 512;
    private readonly int[] _sizes;

    /// <summary>Builds the classes for slabs of <paramref name="slabSize"/> bytes.</summary>
    public SizeClassTable(int slabSize)
    {
        if (slabSize < 4096 || !BitOperations.IsPow2(slabSize))
        {
            throw new ArgumentOutOfRangeException(nameof(slabSize), slabSize, "The slab size must be a power of two of at least 4096 bytes.");
        }

        var sizes = new List<int>();
        for (int s = MinSlotSize; s <= Math.Min(LinearLimit, slabSize); s += Granularity)
        {
            sizes.Add(s);
        }

        long next = LinearLimit;
        while (sizes[^1] < slabSize)
        {
            next = Math.Min(slabSize, RoundUp(next + (next / 8)));
            sizes.Add((int)next);
        }

        _sizes = [.. sizes];
        SlabSize = slabSize;
    }

    /// <summary>The slab size the classes were built for.</summary>
    public int SlabSize { get; }

    /// <summary>Number of classes.</summary>
    public int Count => _sizes.Length;

    /// <summary>Slot size of a class.</summary>
    public int SlotSize(int sizeClass) => _sizes[sizeClass];

    /// <summary>The smallest class whose slots hold <paramref name="entrySize"/> bytes, or -1 if none does.</summary>
    public int ClassFor(int entrySize)
    {
        if (entrySize <= LinearLimit)
        {
            return entrySize <= MinSlotSize ? 0 : (entrySize - MinSlotSize + Granularity - 1) / Granularity;
        }

        if (entrySize > SlabSize)
        {
            return -1;
        }

        int index = Array.BinarySearch(_sizes, entrySize);
        return index >= 0 ? index : ~index;
    }

    /// <summary>
    /// The slot size of a large entry (one of more than <see cref="SlabSize"/> bytes, which no class holds): the entry
    /// rounded up to <see cref="Granularity"/>. Its slot spans <see cref="SpanSlabs"/> slabs in a row.
    /// </summary>
    public static long SpanSlotSize(long entrySize) => RoundUp(entrySize);

    /// <summary>Slabs in a row a slot of <paramref name="slotSize"/> bytes takes: 1 for a class's slot.</summary>
    public int SpanSlabs(long slotSize) => (int)Math.Max(1, (slotSize + SlabSize - 1) / SlabSize);

    private static long RoundUp(long size) => (size + Granularity - 1) / Granularity * Granularity;
}
