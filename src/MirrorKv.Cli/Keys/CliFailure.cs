namespace MirrorKv.Cli.Keys;

/// <summary>An operator command that cannot go on: the message for stderr and the exit code.</summary>
internal sealed class CliFailure(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
