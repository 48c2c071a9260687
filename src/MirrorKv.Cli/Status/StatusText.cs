using MirrorKv.Protocol;

namespace MirrorKv.Cli.Status;

/// <summary>How a node's STATUS reads to an operator, the same in <c>status</c> and <c>info</c>.</summary>
internal static class StatusText
{
    /// <summary>A primary's lease: "unlimited" while no secondary could replace it, its time left otherwise; "-" on other roles.</summary>
    public static string Lease(NodeStatus s) =>
        s.Role is not (NodeRole.Primary or NodeRole.Fenced) ? "-"
        : s.LeaseRemaining == TimeSpan.MaxValue ? "unlimited"
        : $"{s.LeaseRemaining.TotalMilliseconds:F0} ms";
}
