namespace MirrorKv.Protocol;

/// <summary>What a frame asks for. A reply carries the request's opcode with <see cref="ReplyBit"/> set.</summary>
public enum Opcode : byte
{
    /// <summary>First frame of every connection: who is calling; the reply describes the node.</summary>
    Hello = 0x01,

    /// <summary>One-sided READ of registered memory: rkey, address, length.</summary>
    Read = 0x02,

    /// <summary>READ with a primary pointer at the secondary: translated per slab, then read.</summary>
    FailoverRead = 0x03,

    /// <summary>The slab deltas for a primary rkey, so a client can rewrite its table.</summary>
    Translation = 0x04,

    /// <summary>Peer adapter to primary: the claimed slabs and their slot sizes, for a joining secondary's copy.</summary>
    Slabs = 0x05,

    /// <summary>
    /// Answer to a HELLO that came back with <see cref="WireStatus.AuthRequired"/>: the proof that the caller
    /// knows the secret; the reply is the HELLO reply.
    /// </summary>
    Auth = 0x06,

    /// <summary>Insert or overwrite a key; the reply carries the addressing data.</summary>
    Write = 0x10,

    /// <summary>Overwrite an existing key (NotFound if absent).</summary>
    Update = 0x11,

    /// <summary>Delete a key.</summary>
    Delete = 0x12,

    /// <summary>Find a key's pointer (two-sided), for a client that has none.</summary>
    Lookup = 0x13,

    /// <summary>
    /// Read a key's value two-sided (protocol 1.2): the addressing data followed by the value, answered once the
    /// value is published; the reference client's fallback for a slot it keeps finding unpublished (a hot key).
    /// </summary>
    Get = 0x14,

    /// <summary>Peer adapter to secondary: a batch of replication records in LSN order.</summary>
    Replicate = 0x20,

    /// <summary>Secondary to peer adapter: cumulative LSN applied; no reply.</summary>
    ReplicateAck = 0x21,

    /// <summary>
    /// Secondary to primary on the peer link (protocol 1.5): the secondary's clock stamp, echoed with status Ok while
    /// the primary counts this secondary as recorded in sync in etcd; the secondary's read lease runs from the stamp.
    /// </summary>
    ReadLease = 0x22,

    /// <summary>Either node to the other, every heartbeat interval: epoch, role and LSN; no reply.</summary>
    Heartbeat = 0x30,

    /// <summary>Anyone to a node: its role, epoch, LSNs, entries and whether the pair is protected.</summary>
    Status = 0x31,

    /// <summary>
    /// Anyone to the primary: hand over to the caught-up secondary (a planned failover). The primary stops
    /// taking writes, waits until the secondary confirmed every one, and tells it to take over; the reply
    /// leaves once it has.
    /// </summary>
    Switchover = 0x32,

    /// <summary>
    /// Anyone to any node of a cluster (protocol 1.3): the cluster map (slot ranges, pairs, members, version),
    /// so that clients learn it without etcd; a node serving a single pair answers <see cref="WireStatus.NoCluster"/>.
    /// </summary>
    ClusterMap = 0x33,

    /// <summary>
    /// The mover to the primary of a pair whose slots move away (protocol 1.4): a page of the live entries of a slot
    /// range (key and value as stored, expiry prefix included) from a cursor; served only while the node's map has
    /// the range moving from its pair (phase copy or handoff), after the writes in flight at the fence are drained.
    /// </summary>
    SlotExport = 0x34,

    /// <summary>
    /// The mover to the primary of the pair slots move to (protocol 1.4): writes a page of SLOT_EXPORT's entries
    /// through the pair's replication; answered once the secondary holds them. Served only while the node's map has
    /// the range moving into its pair.
    /// </summary>
    SlotImport = 0x35,

    /// <summary>
    /// The mover to the primary of a pair whose slots move away (protocol 1.4): deletes the range's entries from a
    /// cursor, through replication, answered once the secondary holds the deletes; served only in phase handoff.
    /// </summary>
    SlotRetire = 0x36,

    /// <summary>A fatal protocol error, sent just before the node closes the connection; no reply.</summary>
    Error = 0x7F,

    /// <summary>Set in a reply's opcode.</summary>
    ReplyBit = 0x80,
}
