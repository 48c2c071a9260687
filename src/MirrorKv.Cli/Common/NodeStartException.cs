namespace MirrorKv.Cli;

/// <summary>
/// A node that a command started for itself (demo, bench, chaos) did not become ready: the command says so and
/// why, with the node's last lines, instead of a stack trace.
/// </summary>
internal sealed class NodeStartException(string message, Exception? inner = null) : InvalidOperationException(message, inner);
