using System.Net;
using MirrorKv.Memory;
using MirrorKv.Protocol;

namespace MirrorKv.Adapter;

/// <summary>What a node knows about one accepted connection, kept in <c>IConnection.State</c>.</summary>
internal sealed class ConnectionState
{
    /// <summary>When the connection was accepted: the handshake deadline counts from here.</summary>
    public long OpenedAt { get; } = System.Diagnostics.Stopwatch.GetTimestamp();

    /// <summary>The frame being delivered already waited once for room in a full store (TwoSidedPath.WaitForRoom).</summary>
    public bool WaitedForRoom;

    /// <summary>HELLO (and AUTH when a secret is set) done: the connection may do what its kind allows.</summary>
    public bool Greeted { get; set; }

    /// <summary>The HELLO received, kept while the caller answers the challenge.</summary>
    public HelloRequest? Hello { get; set; }

    /// <summary>The challenge sent with AuthRequired; null when none is outstanding.</summary>
    public byte[]? Challenge { get; set; }

    public PeerKind Kind { get; set; }

    /// <summary>
    /// The caller settled on protocol 1.0 in its HELLO. It is then answered as a 1.0 node answered it wherever
    /// 1.1 differs (docs/protocol.md, "Versions"), so that a 1.0 client that worked against a 1.0 node works
    /// the same against this one: STATUS and SLABS take any payload, DELETE and LOOKUP ignore a value, AUTH
    /// after the handshake is answered with HELLO's reply opcode, and a FAILOVER_READ outside the primary
    /// region gets PastEnd. Set once, with <see cref="Greeted"/>.
    /// </summary>
    public bool SpeaksV1_0 { get; set; }

    /// <summary>The caller settled on protocol 1.2 or later, which adds GET (0x14). Set once, with <see cref="Greeted"/>.</summary>
    public bool ServesGet { get; set; }

    /// <summary>The caller settled on protocol 1.4 or later, which adds SLOT_EXPORT, SLOT_IMPORT and SLOT_RETIRE (0x34-0x36). Set once, with <see cref="Greeted"/>.</summary>
    public bool ServesSlotMoves { get; set; }

    public IPEndPoint? AdvertisedEndPoint { get; set; }

    /// <summary>Largest frame the caller accepts (from its HELLO): bounds the replies sent to it.</summary>
    public uint MaxFrameSize { get; set; } = ProtocolLimits.MinMaxFrameSize;

    /// <summary>
    /// What this caller may do to registered memory: read. Replication writes through the peer adapter's
    /// REPLICATE records, never through one-sided WRITEs, so no connection is granted RemoteWrite.
    /// </summary>
    public AccessFlags Grant => AccessFlags.RemoteRead;

    // READs served in the current receive batch, added to the node's counters once per batch: an
    // interlocked add per READ on counters that every connection shares cost more than the READ's copy.
    /// <summary>Whether the node served as primary when the batch being served began.</summary>
    public bool BatchAsPrimary { get; set; }

    /// <summary>
    /// Whether the batch being served gets its reads refused: the node is a secondary with a witness whose read lease
    /// (its primary's grant, or etcd naming it in sync) is not running (<see cref="MirrorKvNode.MayServeReads"/>).
    /// </summary>
    public bool BatchReadsRefused { get; set; }

    /// <summary>
    /// The batch being served sent a WRITE, UPDATE or DELETE to the store, which posts records (entries, and region
    /// or slab records with them) to the replication stream: its end flushes the stream. A batch without one leaves
    /// the stream alone, so that a batch of READs never takes a lock of the replication path (the stream's lock, or
    /// the peer link's send lock, which a writer holds while it posts a record).
    /// </summary>
    public bool BatchWrote { get; set; }

    public long BatchReads;
    public long BatchFailoverReads;
    public long BatchReadBytes;

    /// <summary>Adds the batch's tallies to the node's counters and starts the next batch at zero.</summary>
    public void FlushTallies(NodeCounters counters)
    {
        AddAndClear(ref BatchReads, ref counters.Reads);
        AddAndClear(ref BatchFailoverReads, ref counters.FailoverReads);
        AddAndClear(ref BatchReadBytes, ref counters.ReadBytes);
    }

    private static void AddAndClear(ref long tally, ref long counter)
    {
        if (tally != 0)
        {
            Interlocked.Add(ref counter, tally);
            tally = 0;
        }
    }
}
