using System.CommandLine;

namespace MirrorKv.Cli.Cluster;

/// <summary><c>mirrorkv cluster up|status</c>: a local cluster of pairs for development, and any cluster's state.</summary>
internal static class ClusterCommand
{
    public static Command Create()
    {
        var command = new Command("cluster", "A cluster of pairs over hash slots, coordinated by etcd (docs/scale-out.md).")
        {
            ClusterUp.Create(),
            ClusterStatus.Create(),
        };
        return command;
    }
}
