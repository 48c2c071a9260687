using MirrorKv.Entries;
using MirrorKv.Store;

namespace MirrorKv.Adapter.Resp;

/// <summary>
/// How a RESP value with a time to live is stored: behind the store's <see cref="ValueExpiry"/> prefix, the
/// same one the primary's reaper and the caching library use, so an expired key is reclaimed like theirs. A
/// value without one is stored as it is, unless its own first bytes look like the prefix: then it gets a
/// prefix that never expires, so that reading it back cannot mistake its bytes for a deadline.
/// </summary>
internal readonly ref struct StoredValue
{
    /// <summary>The deadline of a value that never expires.</summary>
    public const long Never = long.MaxValue;

    private StoredValue(ReadOnlySpan<byte> value, long expiresAt)
    {
        Value = value;
        ExpiresAt = expiresAt;
    }

    /// <summary>The client's bytes.</summary>
    public ReadOnlySpan<byte> Value { get; }

    /// <summary>Unix milliseconds at which the key stops existing; <see cref="Never"/> for none.</summary>
    public long ExpiresAt { get; }

    public bool HasExpiry => ExpiresAt != Never;

    /// <summary>True when the deadline has passed: the key counts as absent (the reaper reclaims it later).</summary>
    public bool IsExpired(long nowUnixMs) => ExpiresAt <= nowUnixMs;

    public static StoredValue Decode(ReadOnlySpan<byte> stored) =>
        ValueExpiry.TryRead(stored, out long expiresAt) ? new StoredValue(stored[ValueExpiry.Size..], expiresAt) : new StoredValue(stored, Never);

    /// <summary>
    /// What a read-modify-write starts from: the live value and its deadline, or an empty value that never expires when
    /// the key is absent or its deadline has passed (redis treats an expired key as absent).
    /// </summary>
    public static StoredValue LiveOrEmpty(bool exists, ReadOnlySpan<byte> stored, long nowUnixMs, out bool live)
    {
        StoredValue value = exists ? Decode(stored) : default;
        live = exists && !value.IsExpired(nowUnixMs);
        return live ? value : new StoredValue([], Never);
    }

    /// <summary>Bytes to leave before a value built in place for <see cref="EncodeInPlace"/>: room for the expiry prefix.</summary>
    public const int PrefixRoom = ValueExpiry.Size;

    /// <summary>
    /// Encodes a value already built at <c>room[PrefixRoom..]</c> without copying it: writes the expiry prefix before
    /// it when the value needs one. Returns where the stored bytes lie in <paramref name="room"/>.
    /// </summary>
    public static Range EncodeInPlace(Span<byte> room, long expiresAt)
    {
        if (!NeedsPrefix(room[PrefixRoom..], expiresAt))
        {
            return PrefixRoom..room.Length;
        }

        ValueExpiry.Write(room, expiresAt);
        return 0..room.Length;
    }

    /// <summary>Bytes <see cref="Encode"/> writes for <paramref name="value"/> with <paramref name="expiresAt"/>.</summary>
    public static int EncodedLength(ReadOnlySpan<byte> value, long expiresAt) => NeedsPrefix(value, expiresAt) ? ValueExpiry.Size + value.Length : value.Length;

    /// <summary>True when the value cannot be stored as it is.</summary>
    public static bool NeedsPrefix(ReadOnlySpan<byte> value, long expiresAt) => expiresAt != Never || ValueExpiry.TryRead(value, out _);

    public static int Encode(Span<byte> destination, ReadOnlySpan<byte> value, long expiresAt)
    {
        if (!NeedsPrefix(value, expiresAt))
        {
            value.CopyTo(destination);
            return value.Length;
        }

        ValueExpiry.Write(destination, expiresAt);
        value.CopyTo(destination[ValueExpiry.Size..]);
        return ValueExpiry.Size + value.Length;
    }
}
