using System.Net;
using static MirrorKv.Cli.PairLauncher;

namespace MirrorKv.Cli.Cluster;

/// <summary>A node of a <see cref="LocalCluster"/>: its native and RESP endpoints (kept across restarts) and its current process.</summary>
internal sealed class LocalNode(NodeAddress address, IPEndPoint resp)
{
    public NodeAddress Address => address;

    public IPEndPoint EndPoint => address.Advertised;

    public IPEndPoint Resp => resp;

    /// <summary>The running process; replaced by a restart.</summary>
    public ChildNode? Process { get; set; }
}
