namespace MirrorKv.Store;

/// <summary>Sees the live entries of a scan, one by one, under the store's lock (see <see cref="StoreEngine.Scan"/>).</summary>
public interface IEntryVisitor
{
    /// <summary>
    /// One live entry; both spans point into the registered region and are valid only during the call.
    /// Returns false to end the scan after this entry.
    /// </summary>
    bool Visit(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value);
}
