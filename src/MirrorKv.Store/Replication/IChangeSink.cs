namespace MirrorKv.Store;

/// <summary>
/// Receives every slot a primary store writes, in the order it wrote them: the adapter's replication
/// stream assigns LSNs here.
/// </summary>
/// <remarks>
/// Called on the writing thread while the engine holds its lock, so the order of calls is the order of
/// writes. Must not block and must not call back into the engine; copy what it needs, since the spans
/// are only valid during the call.
/// </remarks>
public interface IChangeSink
{
    /// <summary>One slot was written.</summary>
    void Append(in SlotChange change);
}
