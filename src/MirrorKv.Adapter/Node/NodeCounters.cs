namespace MirrorKv.Adapter;

/// <summary>
/// What a node has served since start, counted where it happens (plain interlocked increments: nothing is
/// allocated and no listener is called on the hot path) and read by the node's observable instruments.
/// </summary>
internal sealed class NodeCounters
{
    public long Reads;
    public long FailoverReads;
    public long ReadBytes;
    public long Writes;
    public long Deletes;
    public long Lookups;
    public long ConnectionsRefused;
    public long Redirects;

    // Slot moves (cluster nodes): entries paged out by SLOT_EXPORT, written by SLOT_IMPORT, deleted by SLOT_RETIRE.
    public long SlotEntriesExported;
    public long SlotEntriesImported;
    public long SlotEntriesRetired;
}
