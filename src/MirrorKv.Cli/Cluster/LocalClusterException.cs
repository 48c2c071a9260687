namespace MirrorKv.Cli.Cluster;

/// <summary>A local cluster could not be started for a reason the user fixes (no etcd on PATH, a name taken): exit code 2.</summary>
internal sealed class LocalClusterException(string message) : Exception(message);
