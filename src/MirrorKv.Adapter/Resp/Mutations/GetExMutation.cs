using MirrorKv.Store;

namespace MirrorKv.Adapter.Resp;

/// <summary>
/// GETEX with EX, PX, EXAT, PXAT or PERSIST: copies the live value into the session's <see cref="RespSession.Copy"/>,
/// then rewrites it behind the new deadline (<see cref="StoredValue.Never"/> for PERSIST), or deletes the key when the
/// deadline has passed already.
/// </summary>
internal ref struct GetExMutation(RespSession session, long deadline, long now) : IValueMutation
{
    private int _newLength;

    /// <summary>The live value's length; -1 when there was none.</summary>
    public int CopiedLength { get; private set; } = -1;

    public readonly ReadOnlySpan<byte> NewValue => session.Scratch.AsSpan(0, _newLength);

    public MutationDecision Decide(bool exists, ReadOnlySpan<byte> current)
    {
        if (!exists)
        {
            return MutationDecision.Keep;
        }

        StoredValue old = StoredValue.Decode(current);
        if (old.IsExpired(now))
        {
            return MutationDecision.Keep;
        }

        old.Value.CopyTo(session.CopyRoom(old.Value.Length));
        CopiedLength = old.Value.Length;
        if (deadline <= now)
        {
            return MutationDecision.Delete;
        }

        if (deadline == old.ExpiresAt)
        {
            // PERSIST of a key without a deadline: nothing to write (or replicate).
            return MutationDecision.Keep;
        }

        _newLength = StoredValue.Encode(session.ScratchRoom(StoredValue.EncodedLength(old.Value, deadline)), old.Value, deadline);
        return MutationDecision.Write;
    }
}
