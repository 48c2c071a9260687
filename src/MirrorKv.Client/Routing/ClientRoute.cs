using System.Net;
using MirrorKv.Protocol;

namespace MirrorKv.Client;

/// <summary>
/// Where a client's operations go now, as one immutable snapshot: the state (<see cref="Path"/>), the primary
/// and its epoch, and the warm standby path to the secondary. <see cref="ClientRouter"/> replaces it whole
/// under its lock; the hot paths read it with one volatile read and no lock, and see primary and secondary
/// of the same moment.
/// </summary>
internal sealed class ClientRoute
{
    private static readonly byte[] NoEndPointBytes = KvReply.EncodeEndPoint(null);

    private ClientRoute(ClientPath path, NodeChannel primary, NodeChannel? secondary, IPEndPoint? secondaryEndPoint, byte[] secondaryEndPointBytes)
    {
        Path = path;
        Primary = primary;
        Secondary = secondary;
        SecondaryEndPoint = secondaryEndPoint;
        SecondaryEndPointBytes = secondaryEndPointBytes;
    }

    /// <summary>Before any primary was found: the only route whose <see cref="Primary"/> is null.</summary>
    public static ClientRoute Connecting { get; } = new(ClientPath.Connecting, null!, null, null, NoEndPointBytes);

    public ClientPath Path { get; }

    /// <summary>
    /// The primary writes go to; in <see cref="ClientPath.FailingOver"/> and <see cref="ClientPath.Secondary"/>
    /// the failed one, kept to tell its pointers. Null only in <see cref="Connecting"/>, before the client is handed out.
    /// </summary>
    public NodeChannel Primary { get; }

    /// <summary>The connection to the secondary (the warm standby path), when it is up.</summary>
    public NodeChannel? Secondary { get; }

    /// <summary>The secondary the primary named (HELLO, write replies), when it named one.</summary>
    public IPEndPoint? SecondaryEndPoint { get; }

    /// <summary><see cref="SecondaryEndPoint"/> as write replies carry it: a write compares 20 bytes, not an endpoint.</summary>
    public byte[] SecondaryEndPointBytes { get; }

    /// <summary>The epoch of <see cref="Primary"/> (0 while connecting).</summary>
    public ulong Epoch => Primary?.Hello.Epoch ?? 0;

    /// <summary>The route to a newly adopted primary, with the secondary it names and no standby connection yet.</summary>
    public static ClientRoute To(NodeChannel primary)
    {
        IPEndPoint? secondary = primary.Hello.PeerEndPoint;
        return new(ClientPath.Primary, primary, null, secondary, KvReply.EncodeEndPoint(secondary));
    }

    public ClientRoute WithPath(ClientPath path) => new(path, Primary, Secondary, SecondaryEndPoint, SecondaryEndPointBytes);

    public ClientRoute WithSecondary(NodeChannel? secondary) => new(Path, Primary, secondary, SecondaryEndPoint, SecondaryEndPointBytes);

    public ClientRoute WithSecondaryEndPoint(IPEndPoint secondaryEndPoint, byte[] encoded) => new(Path, Primary, null, secondaryEndPoint, encoded);

    public ClientRoute WithSecondaryEndPointBytes(byte[] encoded) => new(Path, Primary, Secondary, SecondaryEndPoint, encoded);
}
