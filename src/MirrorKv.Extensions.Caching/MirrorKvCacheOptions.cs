using System.ComponentModel.DataAnnotations;

namespace MirrorKv.Extensions.Caching;

/// <summary>
/// How <see cref="MirrorKvCache"/> reaches its pair. Bound from configuration (section <c>MirrorKv</c> by
/// convention: <c>appsettings.json</c>, environment variables such as <c>MirrorKv__PrimaryEndPoint</c>) and
/// validated when the host starts.
/// </summary>
public sealed class MirrorKvCacheOptions
{
    /// <summary>The primary's endpoint, <c>host:port</c>. Required.</summary>
    public string? PrimaryEndPoint { get; set; }

    /// <summary>The secondary's endpoint; learned from the primary when not set.</summary>
    public string? SecondaryEndPoint { get; set; }

    /// <summary>
    /// File holding the pair's client secret, when the nodes have one. Default: the <c>MIRRORKV_SECRET</c>
    /// environment variable, if set. The secret is never part of configuration files.
    /// </summary>
    public string? SecretFile { get; set; }

    /// <summary>Prepended to every key, so that several applications can share a pair.</summary>
    public string KeyPrefix { get; set; } = "";

    /// <summary>What calls do when no node can serve them.</summary>
    public CacheUnavailableBehavior WhenUnavailable { get; set; } = CacheUnavailableBehavior.Miss;

    /// <summary>Time to connect to a node: 2 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Time a request may take before the node is suspected: 1 s, as <see cref="Client.MirrorKvClientOptions.RequestTimeout"/>.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// After a failed connection, how long calls go straight to <see cref="WhenUnavailable"/> before the
    /// next attempt: 1 s, so that an outage costs one connection attempt a second, not one per call.
    /// </summary>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromSeconds(1);
}
