using System.Buffers.Text;
using MirrorKv.Store;

namespace MirrorKv.Adapter.Resp;

/// <summary>INCR, DECR, INCRBY, DECRBY: the key's integer plus a delta, keeping its time to live; an absent key counts as 0.</summary>
internal ref struct IncrementMutation(RespSession session, long delta, long now) : IValueMutation
{
    private int _newLength;

    /// <summary>The new value, when <see cref="Error"/> is null.</summary>
    public long Result { get; private set; }

    /// <summary>Why nothing was written: the value is no integer, or the sum would overflow.</summary>
    public string? Error { get; private set; }

    public readonly ReadOnlySpan<byte> NewValue => session.Scratch.AsSpan(0, _newLength);

    public MutationDecision Decide(bool exists, ReadOnlySpan<byte> current)
    {
        long value = 0;
        StoredValue old = StoredValue.LiveOrEmpty(exists, current, now, out bool live);
        if (live && !RespNumbers.TryParse(old.Value, out value))
        {
            Error = RespNumbers.NotAnInteger;
            return MutationDecision.Keep;
        }

        long deadline = old.ExpiresAt;

        if ((delta > 0 && value > long.MaxValue - delta) || (delta < 0 && value < long.MinValue - delta))
        {
            Error = "ERR increment or decrement would overflow";
            return MutationDecision.Keep;
        }

        Result = value + delta;
        Span<byte> digits = stackalloc byte[20];
        Utf8Formatter.TryFormat(Result, digits, out int length);
        _newLength = StoredValue.Encode(session.ScratchRoom(StoredValue.EncodedLength(digits[..length], deadline)), digits[..length], deadline);
        return MutationDecision.Write;
    }
}
