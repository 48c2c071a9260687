namespace MirrorKv.Protocol;

/// <summary>
/// Result code of a reply. 1-15 mirror the memory layer's access check, 16-31 the store engine,
/// 32-47 roles and epochs, 48-63 protocol errors.
/// </summary>
public enum WireStatus : byte
{
    /// <summary>Done.</summary>
    Ok = 0,

    /// <summary>The rkey names no registered region of this incarnation.</summary>
    UnknownRKey = 1,

    /// <summary>The length is zero.</summary>
    ZeroLength = 2,

    /// <summary>The address lies before the region.</summary>
    BeforeRegion = 3,

    /// <summary>The range runs past the end of the region.</summary>
    PastEnd = 4,

    /// <summary>address + length overflows 64 bits.</summary>
    LengthOverflow = 5,

    /// <summary>Remote read not allowed for this caller.</summary>
    ReadNotAllowed = 6,

    /// <summary>Remote write not allowed for this caller.</summary>
    WriteNotAllowed = 7,

    /// <summary>
    /// The range passes the access check but is longer than one reply can carry: the caller's maximum frame
    /// size from its HELLO, clamped to [<see cref="ProtocolLimits.MinMaxFrameSize"/>,
    /// <see cref="ProtocolLimits.MaxMaxFrameSize"/>], minus the 16-byte header.
    /// </summary>
    TooLong = 8,

    /// <summary>The key is not in the store.</summary>
    NotFound = 16,

    /// <summary>Keys must have at least one byte.</summary>
    EmptyKey = 17,

    /// <summary>The key exceeds the node's limit.</summary>
    KeyTooLong = 18,

    /// <summary>The value exceeds the node's limit.</summary>
    ValueTooLarge = 19,

    /// <summary>The store has no room for the entry; nothing changed.</summary>
    OutOfMemory = 20,

    /// <summary>A write reached a node that is not the primary.</summary>
    NotPrimary = 32,

    /// <summary>The request carries an older epoch than the node's (the message names both).</summary>
    StaleEpoch = 33,

    /// <summary>FAILOVER_READ or TRANSLATION for a primary rkey this node does not mirror.</summary>
    NoTranslation = 34,

    /// <summary>FAILOVER_READ into a primary slab that no record has reached yet.</summary>
    UnknownSlab = 35,

    /// <summary>A sync write could not be confirmed by the secondary (the link failed before it acked).</summary>
    ReplicationFailed = 36,

    /// <summary>SWITCHOVER refused or abandoned (no caught-up secondary, one already under way, or the secondary did not confirm in time); the primary serves on.</summary>
    SwitchoverRefused = 37,

    /// <summary>
    /// The key's hash slot belongs to another pair of the cluster: the payload is <see cref="Redirect"/>'s text
    /// (<c>MOVED slot endpoint pair version</c>) naming the owner and the map version the node refused by.
    /// </summary>
    Moved = 38,

    /// <summary>CLUSTER_MAP at a node that serves a single pair, not a cluster.</summary>
    NoCluster = 39,

    /// <summary>
    /// SLOT_EXPORT, SLOT_IMPORT or SLOT_RETIRE for slots this node's map does not have moving from (export, retire)
    /// or into (import) its pair in a phase that allows it; the text names the node's map version. A mover retries
    /// while the node's map is older than the one it wrote (its etcd watch lags).
    /// </summary>
    SlotsNotMoving = 40,

    /// <summary>
    /// (1.5) READ_LEASE the node does not grant: it is not the primary at the request's epoch, or it does not count
    /// this link's secondary as recorded in sync in etcd now (not yet recorded, being cleared because the primary lost
    /// it, or no witness at all); the text says which. Nothing is granted; the secondary asks etcd.
    /// </summary>
    NotInSync = 41,

    /// <summary>The frame cannot be parsed (truncated payload, bad lengths, reserved bits set).</summary>
    MalformedFrame = 48,

    /// <summary>The opcode is not one this node serves on this connection.</summary>
    UnknownOpcode = 49,

    /// <summary>The frame's length exceeds the agreed maximum.</summary>
    FrameTooLarge = 50,

    /// <summary>
    /// The first frame was not HELLO (or not AUTH after a challenge): ERROR and close. HELLO or AUTH after the
    /// handshake: an error reply, and the connection stays open.
    /// </summary>
    HandshakeRequired = 51,

    /// <summary>Bad magic, or a major protocol version this node does not speak.</summary>
    UnsupportedProtocol = 52,

    /// <summary>HELLO reply: the node wants proof of the secret; the payload is the 32-byte challenge.</summary>
    AuthRequired = 53,

    /// <summary>The AUTH proof does not match the node's secret for the claimed peer kind.</summary>
    AuthFailed = 54,

    /// <summary>The node has as many connections as it accepts; try later or elsewhere.</summary>
    TooManyConnections = 55,

    /// <summary>The connection took too long: no HELLO, an unfinished frame, or replies left unread.</summary>
    Timeout = 56,
}
