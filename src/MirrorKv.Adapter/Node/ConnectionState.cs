using System.Net;
using MirrorKv.Memory;
using MirrorKv.Protocol;

namespace MirrorKv.Adapter;

/// <summary>What a node knows about one accepted connection, kept in <c>IConnection.State</c>.</summary>
internal sealed class ConnectionState
{
    public bool Greeted { get; set; }

    public PeerKind Kind { get; set; }

    public IPEndPoint? AdvertisedEndPoint { get; set; }

    /// <summary>Largest frame the caller accepts (from its HELLO): bounds the replies sent to it.</summary>
    public uint MaxFrameSize { get; set; } = ProtocolLimits.MinMaxFrameSize;

    /// <summary>
    /// What this caller may do to registered memory: read. Replication writes through the peer adapter's
    /// REPLICATE records, never through one-sided WRITEs, so no connection is granted RemoteWrite.
    /// </summary>
    public AccessFlags Grant => AccessFlags.RemoteRead;
}
