using System.Buffers.Binary;
using MirrorKv.Entries;

namespace MirrorKv.Extensions.Caching;

/// <summary>
/// The 32 bytes in front of every cached value: the store's <see cref="ValueExpiry"/> prefix (16 bytes,
/// holding the deadline: the earlier of the absolute expiry and last access + sliding window, so that the
/// primary reaps the entry when it passes), then the absolute expiry (Unix ms, <see cref="long.MaxValue"/>
/// for none) and the sliding window (ms, 0 for none), which a read needs to move the deadline.
/// </summary>
internal readonly record struct CacheEntryHeader(long DeadlineUnixMs, long AbsoluteUnixMs, long SlidingMs)
{
    public const int Size = ValueExpiry.Size + 16;

    public bool IsSliding => SlidingMs > 0;

    public void Write(Span<byte> destination)
    {
        ValueExpiry.Write(destination, DeadlineUnixMs);
        BinaryPrimitives.WriteInt64LittleEndian(destination[16..], AbsoluteUnixMs);
        BinaryPrimitives.WriteInt64LittleEndian(destination[24..], SlidingMs);
    }

    public static bool TryRead(ReadOnlySpan<byte> value, out CacheEntryHeader header)
    {
        header = default;
        if (value.Length < Size || !ValueExpiry.TryRead(value, out long deadline))
        {
            return false;
        }

        header = new CacheEntryHeader(deadline, BinaryPrimitives.ReadInt64LittleEndian(value[16..]), BinaryPrimitives.ReadInt64LittleEndian(value[24..]));
        return header.SlidingMs >= 0;
    }

    /// <summary>The header for an entry written or read at <paramref name="nowUnixMs"/>.</summary>
    public static CacheEntryHeader Create(long nowUnixMs, long absoluteUnixMs, long slidingMs) =>
        new(slidingMs > 0 ? Math.Min(absoluteUnixMs, SaturatingAdd(nowUnixMs, slidingMs)) : absoluteUnixMs, absoluteUnixMs, slidingMs);

    /// <summary>The same entry, accessed at <paramref name="nowUnixMs"/>: a sliding deadline moves.</summary>
    public CacheEntryHeader Touched(long nowUnixMs) => Create(nowUnixMs, AbsoluteUnixMs, SlidingMs);

    private static long SaturatingAdd(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;
}
