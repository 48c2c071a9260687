using System.Net;
using System.Text;
using MirrorKv.Client;
using MirrorKv.Protocol;
using Microsoft.Extensions.Options;

namespace MirrorKv.Extensions.Caching;

/// <summary>
/// Checks <see cref="MirrorKvCacheOptions"/> when the host starts, naming each bad setting as a cache user
/// writes it (<c>MirrorKv:EndPoints</c>, <c>MirrorKv:SecretFile</c>, ...). Under
/// <see cref="CacheUnavailableBehavior.Fail"/> a problem stops the host; under the default
/// <see cref="CacheUnavailableBehavior.Miss"/> it does not: the cache logs it at start, its health check
/// reports it as Unhealthy, and every call misses, so that a cache's misconfiguration never fails a request.
/// </summary>
public sealed class MirrorKvCacheOptionsValidator : IValidateOptions<MirrorKvCacheOptions>
{
    /// <summary>Environment variable read for the secret when no <see cref="MirrorKvCacheOptions.SecretFile"/> is set.</summary>
    public const string SecretVariable = "MIRRORKV_SECRET";

    /// <summary>What a user sets to give the cache the pair's client secret.</summary>
    internal const string SecretSetting = "MirrorKv:SecretFile (a file holding the pair's client secret) or the MIRRORKV_SECRET environment variable";

    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, MirrorKvCacheOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        List<string> problems = FindProblems(options, out _, out _);
        return problems.Count == 0 || options.WhenUnavailable != CacheUnavailableBehavior.Fail
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(problems);
    }

    /// <summary>Every bad setting, each naming the setting to change and what it accepts; empty when all is well.</summary>
    internal static List<string> FindProblems(MirrorKvCacheOptions options, out IReadOnlyList<EndPoint> endPoints, out byte[]? secret)
    {
        var problems = new List<string>();
#pragma warning disable CS0618 // The older shorthands are still accepted, as items of the list.
        string?[] shorthands = [options.PrimaryEndPoint, options.SecondaryEndPoint];
#pragma warning restore CS0618
        string joined = string.Join(',', new[] { options.EndPoints }.Concat(shorthands).Where(s => !string.IsNullOrWhiteSpace(s)));
        if (joined.Length == 0)
        {
            problems.Add($"MirrorKv:EndPoints is not set: list the pair's nodes, e.g. \"EndPoints\": \"{MirrorKvEndPoints.Example}\".");
            endPoints = [];
        }
        else if (!MirrorKvEndPoints.TryParse(joined, out endPoints, out string? error))
        {
            problems.Add($"MirrorKv:EndPoints: {error}.");
        }

        if (options.ConnectTimeout <= TimeSpan.Zero || options.RequestTimeout <= TimeSpan.Zero || options.ReconnectDelay < TimeSpan.Zero)
        {
            problems.Add("MirrorKv:ConnectTimeout and MirrorKv:RequestTimeout must be positive and MirrorKv:ReconnectDelay not negative (e.g. \"00:00:02\").");
        }

        if (options.InvalidWhenUnavailable is { } text || !Enum.IsDefined(options.WhenUnavailable))
        {
            problems.Add($"MirrorKv:WhenUnavailable '{options.InvalidWhenUnavailable ?? options.WhenUnavailable.ToString()}' is not one of {string.Join(", ", Enum.GetNames<CacheUnavailableBehavior>())}; using Miss.");
        }

        secret = ReadSecret(options, out string? problem);
        if (problem is not null)
        {
            problems.Add(problem);
        }

        return problems;
    }

    /// <summary>The secret from the file, else the environment variable; null when neither is set.</summary>
    internal static byte[]? ReadSecret(MirrorKvCacheOptions options, out string? problem)
    {
        problem = null;
        byte[] secret;
        string source;
        if (options.SecretFile is { } file)
        {
            try
            {
                secret = File.ReadAllBytes(file);
                source = $"MirrorKv:SecretFile ({file})";
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
            source = SecretVariable;
        }
        else
        {
            return null;
        }

        byte[]? normalized = AuthProof.NormalizeSecret(secret, out string? reason);
        problem = reason is null ? null : $"{source}: {reason}.";
        return normalized;
    }
}
