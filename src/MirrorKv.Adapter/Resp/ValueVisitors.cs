using MirrorKv.Store;

namespace MirrorKv.Adapter.Resp;

/// <summary>GET and MGET: the live value goes straight from the store's memory into the reply.</summary>
internal ref struct BulkVisitor(RespOutput output) : IValueVisitor
{
    public bool Hit { get; private set; }

    public void Visit(ReadOnlySpan<byte> value)
    {
        StoredValue stored = StoredValue.Decode(value);
        if (stored.HasExpiry && stored.IsExpired(RespNumbers.NowUnixMs()))
        {
            return;
        }

        output.Bulk(stored.Value);
        Hit = true;
    }
}

/// <summary>EXISTS, STRLEN, TYPE, TTL and PTTL: what they need of a value, without copying it.</summary>
internal ref struct MetadataVisitor(long now) : IValueVisitor
{
    /// <summary>The key exists and has not expired.</summary>
    public bool Live { get; private set; }

    public int Length { get; private set; }

    public long ExpiresAt { get; private set; }

    public void Visit(ReadOnlySpan<byte> value)
    {
        StoredValue stored = StoredValue.Decode(value);
        Live = !stored.IsExpired(now);
        Length = stored.Value.Length;
        ExpiresAt = stored.ExpiresAt;
    }
}

/// <summary>GETRANGE: the bytes from start to end (inclusive; negative counts from the end) of the live value, straight into the reply.</summary>
internal ref struct RangeVisitor(RespOutput output, long start, long end) : IValueVisitor
{
    public bool Answered { get; private set; }

    public void Visit(ReadOnlySpan<byte> value)
    {
        StoredValue stored = StoredValue.Decode(value);
        if (stored.HasExpiry && stored.IsExpired(RespNumbers.NowUnixMs()))
        {
            return;
        }

        output.Bulk(Slice(stored.Value, start, end));
        Answered = true;
    }

    /// <summary>redis's reading of a range: both ends clamped into the value, empty when they cross.</summary>
    public static ReadOnlySpan<byte> Slice(ReadOnlySpan<byte> value, long start, long end)
    {
        long length = value.Length;
        if (start < 0 && end < 0 && start > end)
        {
            return [];
        }

        start = start < 0 ? Math.Max(0, length + start) : start;
        end = end < 0 ? Math.Max(0, length + end) : Math.Min(end, length - 1);
        return length == 0 || start > end ? [] : value[(int)start..(int)(end + 1)];
    }
}
