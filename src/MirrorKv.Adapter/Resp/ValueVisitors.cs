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
