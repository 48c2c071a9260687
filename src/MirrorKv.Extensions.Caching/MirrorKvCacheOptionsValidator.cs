using System.Net;
using System.Text;
using MirrorKv.Protocol;
using Microsoft.Extensions.Options;

namespace MirrorKv.Extensions.Caching;

/// <summary>Checks <see cref="MirrorKvCacheOptions"/> when the host starts, naming each bad setting.</summary>
public sealed class MirrorKvCacheOptionsValidator : IValidateOptions<MirrorKvCacheOptions>
{
    /// <summary>Environment variable read for the secret when no <see cref="MirrorKvCacheOptions.SecretFile"/> is set.</summary>
    public const string SecretVariable = "MIRRORKV_SECRET";

    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, MirrorKvCacheOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.PrimaryEndPoint))
        {
            failures.Add("MirrorKv:PrimaryEndPoint is required (host:port of the primary, e.g. 127.0.0.1:7400).");
        }
        else if (!IPEndPoint.TryParse(options.PrimaryEndPoint, out IPEndPoint? primary) || primary.Port == 0)
        {
            failures.Add($"MirrorKv:PrimaryEndPoint '{options.PrimaryEndPoint}' is not an IP address with a port (e.g. 127.0.0.1:7400).");
        }

        if (options.SecondaryEndPoint is { } secondary && (!IPEndPoint.TryParse(secondary, out IPEndPoint? parsed) || parsed.Port == 0))
        {
            failures.Add($"MirrorKv:SecondaryEndPoint '{secondary}' is not an IP address with a port.");
        }

        if (options.ConnectTimeout <= TimeSpan.Zero || options.RequestTimeout <= TimeSpan.Zero || options.ReconnectDelay < TimeSpan.Zero)
        {
            failures.Add("MirrorKv:ConnectTimeout and RequestTimeout must be positive, ReconnectDelay not negative.");
        }

        if (!Enum.IsDefined(options.WhenUnavailable))
        {
            failures.Add($"MirrorKv:WhenUnavailable must be Miss or Fail; got {options.WhenUnavailable}.");
        }

        _ = ReadSecret(options, out string? problem);
        if (problem is not null)
        {
            failures.Add(problem);
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>The secret from the file, else the environment variable; null when neither is set.</summary>
    internal static byte[]? ReadSecret(MirrorKvCacheOptions options, out string? problem)
    {
        problem = null;
        byte[] secret;
        if (options.SecretFile is { } file)
        {
            try
            {
                secret = File.ReadAllBytes(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                problem = $"MirrorKv:SecretFile: cannot read {file}: {e.Message}";
                return null;
            }
        }
        else if (Environment.GetEnvironmentVariable(SecretVariable) is { Length: > 0 } text)
        {
            secret = Encoding.UTF8.GetBytes(text);
        }
        else
        {
            return null;
        }

        byte[]? normalized = AuthProof.NormalizeSecret(secret, out string? reason);
        problem = reason is null ? null : $"MirrorKv: {reason}.";
        return normalized;
    }
}
