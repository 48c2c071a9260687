namespace MirrorKv.Client;

/// <summary>
/// The scratch arrays of one batched read, kept by the client and reused: renting five arrays from the shared
/// pool per batch cost more than the batch's table lookups, and allocated whenever a batch ended on another
/// thread than it began (the pool's per-thread caches then drain on one thread and fill on the other).
/// </summary>
internal sealed class ReadBatch
{
    public PendingOperation?[] Ops { get; private set; } = [];

    public NodeChannel?[] Channels { get; private set; } = [];

    public CachedPointer[] Pointers { get; private set; } = [];

    public bool[] Absent { get; private set; } = [];

    public ulong[] Hashes { get; private set; } = [];

    /// <summary>Room for <paramref name="count"/> keys.</summary>
    public void EnsureCapacity(int count)
    {
        if (Ops.Length >= count)
        {
            return;
        }

        int capacity = Math.Max(count, 16);
        Ops = new PendingOperation?[capacity];
        Channels = new NodeChannel?[capacity];
        Pointers = new CachedPointer[capacity];
        Absent = new bool[capacity];
        Hashes = new ulong[capacity];
    }

    /// <summary>Drops the references of the batch that used the first <paramref name="count"/> entries.</summary>
    public void Clear(int count)
    {
        Array.Clear(Ops, 0, count);
        Array.Clear(Channels, 0, count);
    }
}
