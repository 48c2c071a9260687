namespace MirrorKv.Store;

/// <summary>
/// A read-modify-write of one key, decided under the store's lock so that no other write comes between the
/// read and the write (see <see cref="StoreEngine.Mutate"/>).
/// </summary>
public interface IValueMutation
{
    /// <summary>
    /// Decides from the current value (<paramref name="exists"/> false and an empty span when the key is absent).
    /// <paramref name="current"/> points into the registered region and is valid only during the call.
    /// </summary>
    MutationDecision Decide(bool exists, ReadOnlySpan<byte> current);

    /// <summary>
    /// The value to write after <see cref="MutationDecision.Write"/>. It must not point into the store's
    /// region: the write may reuse the very slot the current value is in.
    /// </summary>
    ReadOnlySpan<byte> NewValue { get; }
}
