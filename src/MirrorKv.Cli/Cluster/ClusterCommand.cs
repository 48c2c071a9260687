using System.CommandLine;

namespace MirrorKv.Cli.Cluster;

/// <summary><c>mirrorkv cluster up|create|status|move|rebalance|add-pair|remove-pair</c>: a local cluster for development, the first map of a deployed one, any cluster's state, and moving slots live.</summary>
internal static class ClusterCommand
{
    public static Command Create()
    {
        var command = new Command("cluster", "A cluster of pairs over hash slots, coordinated by etcd (docs/scale-out.md).")
        {
            ClusterUp.Create(),
            ClusterStatus.Create(),
        };
        foreach (Command move in ClusterMove.Create())
        {
            command.Subcommands.Add(move);
        }

        return command;
    }
}
