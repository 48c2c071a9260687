namespace MirrorKv.Cli.Cluster;

/// <summary>A slot move that cannot go on; the map keeps its state, and running the command again resumes it.</summary>
internal sealed class MoveException(string message) : Exception(message);
