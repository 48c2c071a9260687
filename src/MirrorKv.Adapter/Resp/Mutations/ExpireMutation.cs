using MirrorKv.Store;

namespace MirrorKv.Adapter.Resp;

/// <summary>
/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (with NX, XX, GT, LT), and PERSIST (a deadline of <see cref="StoredValue.Never"/>
/// that applies only to a key that has one): rewrites the value behind a new deadline, or deletes the key when the
/// deadline has passed already. With <c>copy</c> (GETEX), copies the live value into the session's
/// <see cref="RespSession.Copy"/> first.
/// </summary>
internal ref struct ExpireMutation(RespSession session, long deadline, ExpireCondition condition, long now, bool copy = false) : IValueMutation
{
    private int _newLength;

    /// <summary>The key was live and the condition held: the reply is 1.</summary>
    public bool Applied { get; private set; }

    /// <summary>With copy: the live value's length; -1 when there was none.</summary>
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

        if (copy)
        {
            old.Value.CopyTo(session.CopyRoom(old.Value.Length));
            CopiedLength = old.Value.Length;
        }

        if (!Holds(old))
        {
            return MutationDecision.Keep;
        }

        Applied = true;
        if (deadline <= now)
        {
            return MutationDecision.Delete;
        }

        _newLength = StoredValue.Encode(session.ScratchRoom(StoredValue.EncodedLength(old.Value, deadline)), old.Value, deadline);
        return MutationDecision.Write;
    }

    // No deadline counts as an infinite one, as redis counts it for GT and LT.
    private readonly bool Holds(StoredValue old) => condition switch
    {
        ExpireCondition.IfNone => !old.HasExpiry,
        ExpireCondition.IfAny => old.HasExpiry,
        ExpireCondition.IfGreater => deadline > old.ExpiresAt,
        ExpireCondition.IfLess => deadline < old.ExpiresAt,
        _ => true,
    };
}
