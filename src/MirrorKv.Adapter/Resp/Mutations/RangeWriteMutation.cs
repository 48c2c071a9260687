using MirrorKv.Store;

namespace MirrorKv.Adapter.Resp;

/// <summary>
/// APPEND and SETRANGE: the key's value with <c>bytes</c> written at an offset (APPEND's is the value's end), zero
/// bytes filling any gap, keeping its time to live; an absent key is an empty value. Decided under one hold of
/// the store's lock, so no write comes between the read and the write.
/// </summary>
internal ref struct RangeWriteMutation(RespSession session, ReadOnlySpan<byte> bytes, long offset, bool append, int maxLength, long now) : IValueMutation
{
    private readonly ReadOnlySpan<byte> _bytes = bytes;
    private Range _newValue;

    /// <summary>The value's length after the command (what APPEND and SETRANGE answer), when <see cref="TooLong"/> is false.</summary>
    public long Length { get; private set; }

    /// <summary>The value would pass the node's largest value: nothing was written.</summary>
    public bool TooLong { get; private set; }

    public readonly ReadOnlySpan<byte> NewValue => session.Scratch.AsSpan()[_newValue];

    public MutationDecision Decide(bool exists, ReadOnlySpan<byte> current)
    {
        StoredValue stored = StoredValue.LiveOrEmpty(exists, current, now, out _);
        ReadOnlySpan<byte> old = stored.Value;
        long deadline = stored.ExpiresAt;

        long at = append ? old.Length : offset;
        Length = Math.Max(old.Length, at + _bytes.Length);
        if (_bytes.IsEmpty)
        {
            // redis: an empty write changes nothing and does not create the key.
            Length = old.Length;
            return MutationDecision.Keep;
        }

        if (Length > maxLength)
        {
            TooLong = true;
            return MutationDecision.Keep;
        }

        // Built once, apart from the store's memory (the write may reuse the slot the old value is in), behind room
        // for the expiry prefix.
        Span<byte> room = session.ScratchRoom(StoredValue.PrefixRoom + (int)Length);
        Span<byte> value = room[StoredValue.PrefixRoom..];
        old.CopyTo(value);
        value[old.Length..].Clear();
        _bytes.CopyTo(value[(int)at..]);
        _newValue = StoredValue.EncodeInPlace(room, deadline);
        return MutationDecision.Write;
    }
}
