using MirrorKv.Store;

namespace MirrorKv.Adapter.Resp;

/// <summary>
/// DEL, UNLINK and GETDEL: deletes the key if it is there (an expired one too, reclaiming it early) and says
/// whether it was live; with <c>copy</c>, copies the live value into the session's <see cref="RespSession.Copy"/> first.
/// </summary>
internal ref struct TakeMutation(RespSession session, bool copy, long now) : IValueMutation
{
    /// <summary>The key existed and had not expired.</summary>
    public bool WasLive { get; private set; }

    /// <summary>With copy: the live value's length; -1 when there was none.</summary>
    public int CopiedLength { get; private set; } = -1;

    public readonly ReadOnlySpan<byte> NewValue => default;

    public MutationDecision Decide(bool exists, ReadOnlySpan<byte> current)
    {
        if (!exists)
        {
            return MutationDecision.Keep;
        }

        StoredValue old = StoredValue.Decode(current);
        WasLive = !old.IsExpired(now);
        if (WasLive && copy)
        {
            old.Value.CopyTo(session.CopyRoom(old.Value.Length));
            CopiedLength = old.Value.Length;
        }

        return MutationDecision.Delete;
    }
}
