using System.Text;
using MirrorKv.Store;

namespace MirrorKv.Adapter.Resp;

/// <summary>INCRBYFLOAT: the key's number plus a delta, keeping its time to live; an absent key counts as 0.</summary>
internal ref struct FloatIncrementMutation(RespSession session, double delta, long now) : IValueMutation
{
    private Range _newValue;

    /// <summary>The new value as answered, when <see cref="Error"/> is null.</summary>
    public readonly ReadOnlySpan<byte> Digits => session.Scratch.AsSpan(StoredValue.PrefixRoom, DigitsLength);

    public int DigitsLength { get; private set; }

    /// <summary>Why nothing was written: the value is no number, or the sum is not finite.</summary>
    public string? Error { get; private set; }

    public readonly ReadOnlySpan<byte> NewValue => session.Scratch.AsSpan()[_newValue];

    public MutationDecision Decide(bool exists, ReadOnlySpan<byte> current)
    {
        double value = 0;
        StoredValue old = StoredValue.LiveOrEmpty(exists, current, now, out bool live);
        if (live && !RespNumbers.TryParseFloat(old.Value, out value))
        {
            Error = RespNumbers.NotAFloat;
            return MutationDecision.Keep;
        }

        long deadline = old.ExpiresAt;

        double sum = value + delta;
        if (!double.IsFinite(sum))
        {
            Error = "ERR increment would produce NaN or Infinity";
            return MutationDecision.Keep;
        }

        string text = RespNumbers.FormatFloat(sum);
        Span<byte> room = session.ScratchRoom(StoredValue.PrefixRoom + text.Length);
        DigitsLength = Encoding.ASCII.GetBytes(text, room[StoredValue.PrefixRoom..]);
        _newValue = StoredValue.EncodeInPlace(room, deadline);
        return MutationDecision.Write;
    }
}
