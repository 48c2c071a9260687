using System.CommandLine;
using System.Text;
using MirrorKv.Protocol;

namespace MirrorKv.Cli;

/// <summary>
/// Where a secret comes from: a file named on the command line, else an environment variable. Never the
/// command line itself, which every user of the machine can read in the process list.
/// </summary>
internal static class SecretSource
{
    /// <summary>Environment variable holding the client secret.</summary>
    public const string ClientVariable = "MIRRORKV_SECRET";

    /// <summary>Environment variable holding the peer-link secret.</summary>
    public const string PeerVariable = "MIRRORKV_PEER_SECRET";

    /// <summary>The <c>--secret-file</c> option shared by every command that talks to nodes.</summary>
    public static Option<string?> ClientFileOption() =>
        new("--secret-file") { Description = $"File holding the client secret (at least {AuthProof.MinSecretLength} bytes; a final newline is ignored). Default: the {ClientVariable} environment variable, if set." };

    /// <summary>
    /// Reads the secret from <paramref name="file"/> or, when no file is given, from <paramref name="variable"/>.
    /// Null when neither is set; adds to <paramref name="errors"/> when the one given is unusable.
    /// </summary>
    public static byte[]? Read(string? file, string variable, string option, List<string> errors, out string? origin)
    {
        byte[] secret;
        if (file is not null)
        {
            origin = $"file {file}";
            try
            {
                secret = File.ReadAllBytes(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                errors.Add($"{option}: cannot read {file}: {e.Message}");
                return null;
            }

            if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(file) & (UnixFileMode.OtherRead | UnixFileMode.GroupRead)) != 0)
            {
                Console.Error.WriteLine($"warning: {file} is readable by other users (chmod 600 it)");
            }
        }
        else if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } text)
        {
            origin = $"environment variable {variable}";
            secret = Encoding.UTF8.GetBytes(text);
        }
        else
        {
            origin = null;
            return null;
        }

        byte[]? normalized = AuthProof.NormalizeSecret(secret, out string? problem);
        if (problem is not null)
        {
            errors.Add($"{option}: {problem} (from the {origin})");
        }

        return normalized;
    }
}
