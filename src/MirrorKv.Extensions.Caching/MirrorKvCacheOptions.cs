using MirrorKv.Client;

namespace MirrorKv.Extensions.Caching;

/// <summary>
/// How <see cref="MirrorKvCache"/> reaches its pair, or its cluster. Bound from configuration (section <c>MirrorKv</c> by
/// convention: <c>appsettings.json</c>, environment variables such as <c>MirrorKv__EndPoints</c>) and checked
/// when the host starts: under <see cref="CacheUnavailableBehavior.Miss"/> a bad setting is logged and reported
/// by the health check, and the cache misses; under <see cref="CacheUnavailableBehavior.Fail"/> the host does
/// not start.
/// </summary>
public sealed class MirrorKvCacheOptions
{
    /// <summary>
    /// The pair's nodes, or any nodes of a cluster of pairs (the cache finds the others from them), in any order, as
    /// <c>host:port</c> items separated by commas:
    /// <c>"kv-a:7400,kv-b:7400"</c>, <c>"10.0.0.5:7400,10.0.0.6:7400"</c>, <c>"[fd00::5]:7400,[fd00::6]:7400"</c>
    /// (<see cref="MirrorKvEndPoints"/>). Host names are resolved at every connection attempt. Required.
    /// </summary>
    public string? EndPoints { get; set; }

    /// <summary>Older shorthand for one item of <see cref="EndPoints"/>; it need not be the primary.</summary>
    [Obsolete("List the pair's nodes in EndPoints, in any order.")]
    public string? PrimaryEndPoint { get; set; }

    /// <summary>Older shorthand for one item of <see cref="EndPoints"/>.</summary>
    [Obsolete("List the pair's nodes in EndPoints, in any order.")]
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

    /// <summary>The text of a <c>WhenUnavailable</c> setting that named no behavior (then the default, Miss, applies).</summary>
    internal string? InvalidWhenUnavailable { get; set; }
}
