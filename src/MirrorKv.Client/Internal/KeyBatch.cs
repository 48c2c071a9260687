using MirrorKv.Protocol;

namespace MirrorKv.Client;

/// <summary>
/// The scratch arrays of one pipelined batch of reads or writes, kept by the client and reused: renting them from the shared pool
/// per batch cost more than the batch's table lookups, and allocated whenever a batch ended on another
/// thread than it began (the pool's per-thread caches then drain on one thread and fill on the other).
/// </summary>
internal sealed class KeyBatch
{
    /// <summary>Per key: the operation its request is a part of (null: not posted).</summary>
    public PendingOperation?[] Ops { get; private set; } = [];

    /// <summary>Per key: its part number in that operation.</summary>
    public byte[] Parts { get; private set; } = [];

    /// <summary>Per key: the node its read goes to (null: none can serve it now).</summary>
    public NodeChannel?[] Channels { get; private set; } = [];

    /// <summary>Per key: READ, or FAILOVER_READ at the secondary.</summary>
    public Opcode[] Opcodes { get; private set; } = [];

    public CachedPointer[] Pointers { get; private set; } = [];

    public bool[] Absent { get; private set; } = [];

    public ulong[] Hashes { get; private set; } = [];

    /// <summary>The operations rented for this batch, in posting order.</summary>
    public List<(PendingOperation Op, NodeChannel Channel)> Rented { get; } = [];

    /// <summary>Room for <paramref name="count"/> keys.</summary>
    public void EnsureCapacity(int count)
    {
        if (Ops.Length >= count)
        {
            return;
        }

        int capacity = Math.Max(count, 16);
        Ops = new PendingOperation?[capacity];
        Parts = new byte[capacity];
        Channels = new NodeChannel?[capacity];
        Opcodes = new Opcode[capacity];
        Pointers = new CachedPointer[capacity];
        Absent = new bool[capacity];
        Hashes = new ulong[capacity];
    }

    /// <summary>Gives the rented operations back to their channels (their replies have been judged, or are of no use).</summary>
    public void ReturnOperations()
    {
        foreach ((PendingOperation op, NodeChannel channel) in Rented)
        {
            channel.Return(op);
        }

        Rented.Clear();
    }

    /// <summary>
    /// Drops the references of the batch that used the first <paramref name="count"/> entries, so that the next
    /// batch starts with no operation and no node for any key.
    /// </summary>
    public void Clear(int count)
    {
        ReturnOperations();
        Array.Clear(Ops, 0, count);
        Array.Clear(Channels, 0, count);
    }
}
