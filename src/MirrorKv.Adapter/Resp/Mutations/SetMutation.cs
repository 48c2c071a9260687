using MirrorKv.Store;

namespace MirrorKv.Adapter.Resp;

/// <summary>SET with NX, XX, GET or KEEPTTL: the condition, the old value and the write decided under one hold of the store's lock.</summary>
internal ref struct SetMutation : IValueMutation
{
    private readonly RespSession _session;
    private readonly ReadOnlySpan<byte> _value;
    private readonly long _expiresAt;
    private readonly SetOptions _options;
    private readonly long _now;
    private int _newLength;

    public SetMutation(RespSession session, ReadOnlySpan<byte> value, long expiresAt, SetOptions options, long now)
    {
        _session = session;
        _value = value;
        _expiresAt = expiresAt;
        _options = options;
        _now = now;
    }

    /// <summary>With GET: the old value's length, copied into the session's <see cref="RespSession.Copy"/>; -1 when there was none.</summary>
    public int OldLength { get; private set; } = -1;

    public readonly ReadOnlySpan<byte> NewValue => _session.Scratch.AsSpan(0, _newLength);

    public MutationDecision Decide(bool exists, ReadOnlySpan<byte> current)
    {
        bool live = false;
        long oldExpiry = StoredValue.Never;
        if (exists)
        {
            StoredValue old = StoredValue.Decode(current);
            live = !old.IsExpired(_now);
            if (live)
            {
                oldExpiry = old.ExpiresAt;
                if ((_options & SetOptions.Get) != 0)
                {
                    old.Value.CopyTo(_session.CopyRoom(old.Value.Length));
                    OldLength = old.Value.Length;
                }
            }
        }

        if (((_options & SetOptions.IfAbsent) != 0 && live) || ((_options & SetOptions.IfPresent) != 0 && !live))
        {
            return MutationDecision.Keep;
        }

        long deadline = (_options & SetOptions.KeepTtl) != 0 ? oldExpiry : _expiresAt;
        _newLength = StoredValue.Encode(_session.ScratchRoom(StoredValue.EncodedLength(_value, deadline)), _value, deadline);
        return MutationDecision.Write;
    }
}
