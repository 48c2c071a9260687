using MirrorKv.Memory;
using MirrorKv.Protocol;
using MirrorKv.Store;
using MirrorKv.Transport;

namespace MirrorKv.Adapter;

/// <summary>
/// The primary's replication stream: every slot the store writes gets the next LSN and, while a secondary
/// is attached, goes into the peer connection's send queue as a REPLICATE record with the primary address.
/// Records are posted as they are written (in LSN order, since the store calls under its lock) and reach
/// the wire in batches when the connection is flushed.
/// </summary>
internal sealed class ReplicationStream : IChangeSink
{
    private readonly Lock _lock = new();
    private ulong _lastLsn;
    private ulong _epoch;
    private IConnection? _peer;

    /// <summary>
    /// Sync mode: a change made while a secondary is attached (or while writes are held for one, see
    /// <see cref="AckWaiters.Holding"/>) is published to one-sided readers only once the secondary acknowledged it.
    /// </summary>
    public bool PublishAfterAck { get; init; }

    /// <summary>Where the held writes wait; read for <see cref="AckWaiters.Holding"/>.</summary>
    public AckWaiters? Waiters { get; init; }

    /// <summary>The LSN of the last record written (0 before any).</summary>
    public ulong LastLsn => Volatile.Read(ref _lastLsn);

    /// <summary>The connection records go to; null while the pair is unprotected.</summary>
    /// <remarks>
    /// Read without the lock: by a write batch's end (<see cref="Flush"/>) and its backpressure check, which must
    /// not wait behind a writer posting a record. A batch of READs does not touch the stream at all.
    /// </remarks>
    public IConnection? Peer => Volatile.Read(ref _peer);

    /// <summary>
    /// Fault point for tests: runs after a record is written into the peer connection's send queue and before it
    /// is committed, so with the stream's lock and the peer link's send lock both held, as a writer holds them
    /// while it copies a large value into its record.
    /// </summary>
    internal Action? WhileRecordReserved { get; set; }

    /// <summary>
    /// Starts streaming to <paramref name="peer"/>; returns false if another secondary is attached, or its link has
    /// closed and not been detached yet.
    /// <paramref name="attachedAtLsn"/> is the last LSN not sent to it: records after it are.
    /// </summary>
    /// <param name="peer">The secondary's connection.</param>
    /// <param name="epoch">The primary's epoch.</param>
    /// <param name="beforeStream">
    /// Posts the HELLO reply, under the stream's lock, before the stream's first frame: the regions it lists
    /// (the store's chunks, read then) are exactly those whose region record is not in the stream to come, or is
    /// but names a region listed (a chunk registered meanwhile posts its record after this returns), so that
    /// the secondary learns every chunk once at least.
    /// </param>
    /// <param name="attachedAtLsn">The last LSN not sent to the secondary.</param>
    public bool Attach(IConnection peer, ulong epoch, Action beforeStream, out ulong attachedAtLsn)
    {
        lock (_lock)
        {
            attachedAtLsn = _lastLsn;
            // A closed peer too, until its loss detached it: see MirrorKvNode.ClosingLinkRefusal.
            if (_peer is not null)
            {
                return false;
            }

            beforeStream();
            Volatile.Write(ref _peer, peer);
            _epoch = epoch;

            // The stream's first frame has no record: its request id tells the secondary the LSN the stream
            // starts after, so that it reports the primary's LSN while it copies (not 0).
            try
            {
                ReplicateBatch.WriteHeader(peer.BeginPost(Opcode.Replicate, WireStatus.Ok, attachedAtLsn, ReplicateBatch.HeaderSize), epoch, 0);
                peer.EndPost();
            }
            catch (ConnectionClosedException)
            {
            }

            return true;
        }
    }

    /// <summary>
    /// A promoted secondary's stream goes on from the last LSN it applied, so that LSNs keep rising across a
    /// failover (status and lag stay comparable).
    /// </summary>
    public void StartAt(ulong lsn)
    {
        lock (_lock)
        {
            _lastLsn = Math.Max(_lastLsn, lsn);
        }
    }

    /// <summary>Stops streaming to <paramref name="peer"/> (it closed).</summary>
    public bool Detach(IConnection peer)
    {
        lock (_lock)
        {
            if (_peer != peer)
            {
                return false;
            }

            Volatile.Write(ref _peer, null);
            return true;
        }
    }

    /// <summary>
    /// Called by the store under its lock for every slot written. Returns the record's LSN when the entry must stay
    /// unpublished until the secondary acknowledged it, else 0.
    /// </summary>
    public ulong Append(in SlotChange change) => Post(change.Version, change.Slot, (byte)change.Flags, change.Key, change.Value);

    /// <summary>
    /// Called by the store under its lock when it gives a slab back to its pool. Nothing in it is published: the
    /// store releases only a slab with no live entry waiting for publication.
    /// </summary>
    public void AppendSlabRelease(in RemotePointer slab) => Post(0, slab, ReplicationRecord.SlabReleasedFlag, [], []);

    /// <summary>Called by the store under its lock when it registers a chunk, before any slot of it is written.</summary>
    public void AppendRegion(in RemotePointer region) => Post(0, region, ReplicationRecord.RegionFlag, [], []);

    // Returns the record's LSN when an entry written with it must wait for the secondary's ack to be published, else 0.
    private ulong Post(ulong version, RemotePointer slot, byte flags, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        lock (_lock)
        {
            ulong lsn = ++_lastLsn;
            IConnection? peer = _peer;
            ulong publishAfter = PublishAfterAck && (peer is not null || Waiters is { Holding: true }) ? lsn : 0;
            if (peer is null)
            {
                return publishAfter;
            }

            var record = new ReplicationRecord(lsn, version, slot, flags, key, value);
            try
            {
                Span<byte> payload = peer.BeginPost(Opcode.Replicate, WireStatus.Ok, lsn, ReplicateBatch.HeaderSize + record.Size);
                ReplicateBatch.WriteHeader(payload, _epoch, 1);
                record.Write(payload[ReplicateBatch.HeaderSize..]);
                WhileRecordReserved?.Invoke();
                peer.EndPost();
            }
            catch (ConnectionClosedException)
            {
                // The secondary is gone; its close handler detaches it and releases the waiting writes (and
                // publishes their entries) or fails them.
            }

            return publishAfter;
        }
    }

    /// <summary>Hands the posted records to the wire.</summary>
    public void Flush() => Peer?.Flush();

    /// <summary>Hands the posted records to the wire once the event loop has served every client ready with this one.</summary>
    public void FlushAfterDelivery() => Peer?.FlushAfterDelivery();
}
