namespace MirrorKv.Cli.Keys;

/// <summary>
/// What the operator commands exit with, so that a script can tell a missing key from a node it cannot
/// reach or a write sent to the wrong node (README of the CLI).
/// </summary>
internal static class ExitCode
{
    public const int Ok = 0;

    /// <summary>get, ttl, del: the key is not there.</summary>
    public const int NotFound = 1;

    /// <summary>Bad arguments or a secret file that cannot be used (as <c>serve</c> and <c>status</c>).</summary>
    public const int Usage = 2;

    /// <summary>The node cannot be reached, did not answer in time, or cannot serve now (rejoining, fenced).</summary>
    public const int Unavailable = 3;

    /// <summary>The node wants a secret that was not given, or refused the one given.</summary>
    public const int AuthenticationFailed = 4;

    /// <summary>A write sent to a node that is not the primary.</summary>
    public const int NotPrimary = 5;

    /// <summary>Anything else the node refused (too large a value, out of memory, an error reply).</summary>
    public const int Refused = 6;
}
