using System.Net;

namespace MirrorKv.Protocol;

/// <summary>One node of a cluster's pair: where it serves the native protocol and, when it does, RESP.</summary>
/// <param name="EndPoint">The node's native endpoint (what <c>serve --listen</c> or <c>--advertise</c> names).</param>
/// <param name="RespEndPoint">Its RESP endpoint, or null when it serves none or it is not known.</param>
public sealed record ClusterMember(IPEndPoint EndPoint, IPEndPoint? RespEndPoint = null)
{
    /// <inheritdoc />
    public override string ToString() => RespEndPoint is null ? EndPoint.ToString() : $"{EndPoint} (RESP {RespEndPoint})";
}
