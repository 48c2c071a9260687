using MirrorKv.Transport.Tcp;

namespace MirrorKv.Cli.Serve;

/// <summary>
/// What <c>mirrorkv serve</c> reads from its configuration section <c>Node</c>, layered from lowest to
/// highest: these defaults, a JSON file (<c>--config</c>, else <c>appsettings.json</c> in the working
/// directory when present), environment variables (<c>MIRRORKV_Node__Listen</c>, …), the command line.
/// Secrets are never configuration values: only the paths of files holding them are.
/// </summary>
internal sealed class ServeSettings
{
    /// <summary>The setting names, as configuration keys under the Node section.</summary>
    public static IReadOnlyList<string> Keys { get; } = [.. typeof(ServeSettings).GetProperties().Where(p => p.CanWrite).Select(p => p.Name)];

    /// <summary>Keys of <paramref name="section"/> that name no setting (compared without case, as the binder does).</summary>
    public static IEnumerable<string> UnknownKeys(Microsoft.Extensions.Configuration.IConfigurationSection section) =>
        section.GetChildren().Select(c => c.Key).Where(key => !Keys.Contains(key, StringComparer.OrdinalIgnoreCase));

    public string Role { get; set; } = "primary";

    public string Listen { get; set; } = "127.0.0.1:7400";

    public string? Primary { get; set; }

    public string? Advertise { get; set; }

    /// <summary>Endpoint of the RESP port (redis clients); none: no RESP.</summary>
    public string? RespListen { get; set; }

    /// <summary>Endpoint of the sentinel port (redis clients' Sentinel discovery); none: no sentinel port.</summary>
    public string? SentinelListen { get; set; }

    public string? Peer { get; set; }

    /// <summary>Endpoint of the Prometheus scrape endpoint (<c>/metrics</c>); none: no scrape endpoint.</summary>
    public string? MetricsListen { get; set; }

    /// <summary>OTLP collector URL for the node's metrics; none: the OTEL_EXPORTER_OTLP_ENDPOINT variable, if set.</summary>
    public string? OtlpEndPoint { get; set; }

    /// <summary>etcd client URLs, comma-separated; none: pair mode.</summary>
    public string? Coordinator { get; set; }

    public string PairName { get; set; } = "default";

    /// <summary>The memory limit (StoreOptions.MaxMemory); none: <see cref="RegionSize"/>, else 256m.</summary>
    public string? MaxMemory { get; set; }

    /// <summary>The deprecated name of <see cref="MaxMemory"/>, from when the node registered one region of this size up front.</summary>
    public string? RegionSize { get; set; }

    /// <summary>The limit when neither <see cref="MaxMemory"/> nor <see cref="RegionSize"/> is given.</summary>
    public const string DefaultMaxMemory = "256m";

    /// <summary>The cluster this pair belongs to (needs Coordinator); none: a pair on its own.</summary>
    public string? Cluster { get; set; }

    public string SlabSize { get; set; } = "1m";

    /// <summary>The largest value (StoreOptions.MaxValueLength); none: 16m, or what the largest chunk holds when --max-memory is smaller.</summary>
    public string? MaxValueSize { get; set; }

    /// <summary>noeviction, allkeys-lru, allkeys-lfu or volatile-ttl (StoreOptions.Eviction says why noeviction is the default).</summary>
    public string Eviction { get; set; } = "noeviction";

    public string Replication { get; set; } = "sync";

    public bool Verbose { get; set; }

    public string? SecretFile { get; set; }

    public string? PeerSecretFile { get; set; }

    public bool AllowUnauthenticated { get; set; }

    public int MaxConnections { get; set; } = 1024;

    public int EventLoops { get; set; } = TcpTransportOptions.DefaultEventLoops;

    public int SpinMicroseconds { get; set; } = 50;
}
