namespace MirrorKv.Store;

/// <summary>Sees one key's value where it lives, under the store's lock (see <see cref="StoreEngine.TryVisit{TVisitor}(ReadOnlySpan{byte}, ref TVisitor)"/>).</summary>
public interface IValueVisitor
{
    /// <summary>
    /// The value as stored. The span points into the registered region and is valid only during the call;
    /// the call holds the store's lock, so it must copy and return, never wait.
    /// </summary>
    void Visit(ReadOnlySpan<byte> value);
}
