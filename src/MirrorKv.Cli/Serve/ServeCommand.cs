using System.CommandLine;
using System.Net;
using MirrorKv.Adapter;
using MirrorKv.Client;
using MirrorKv.Protocol;
using MirrorKv.Store;
using MirrorKv.Transport.Tcp;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MirrorKv.Cli.Serve;

/// <summary><c>mirrorkv serve</c>: runs one node of a pair as this process until SIGTERM or Ctrl+C.</summary>
internal static class ServeCommand
{
    private const string Section = "Node";

    public static Command Create()
    {
        var defaults = new ServeSettings();
        var role = new Option<string>("--role") { Description = $"primary or secondary (default {defaults.Role})." };
        role.AcceptOnlyFromAmong("primary", "secondary");
        var listen = new Option<string>("--listen") { Description = $"Endpoint to listen on, host:port (default {defaults.Listen}). Without a secret, only a loopback address is accepted (see --allow-unauthenticated)." };
        var primary = new Option<string?>("--primary") { Description = "For a secondary: the primary's endpoint (host:port). With --coordinator it may be left out: etcd says where the primary is." };
        var coordinator = new Option<string?>("--coordinator") { Description = "etcd client URLs (comma-separated, e.g. http://127.0.0.1:2379) holding the pair's leader key, epoch and the primary's etcd lease: the witness that tells a dead node from a cut link. Without it the pair decides alone (pair mode)." };
        var pairName = new Option<string>("--pair-name", "--pair") { Description = $"The pair's name, the same on both nodes (default {defaults.PairName}): the service name redis clients give Sentinel discovery on the RESP port, with --coordinator where its keys live (/mirrorkv/pairs/<name>/), and with --cluster the pair id the cluster map gives slots to." };
        var cluster = new Option<string?>("--cluster") { Description = "Serve as a pair of this cluster (needs --coordinator): only keys of the hash slots the cluster map in etcd gives this pair (--pair); other keys are redirected to their owner (status Moved). The pair's keys move under /mirrorkv/clusters/<name>/pairs/<pair>/. See docs/scale-out.md." };
        var sentinelListen = new Option<string?>("--sentinel-listen") { Description = "Also answer as a redis Sentinel for this pair on this endpoint, host:port (SENTINEL get-master-addr-by-name <pair name> and the rest), so that redis clients given both nodes' sentinel ports find the primary's RESP port and follow a failover. Needs --resp-listen. Without a secret, only a loopback address is accepted. See docs/resp.md." };
        var respListen = new Option<string?>("--resp-listen") { Description = "Also serve RESP (redis-cli, redis clients) on this endpoint, host:port: the same store, replication and secret (AUTH). Without a secret, only a loopback address is accepted. See docs/resp.md." };
        var metricsListen = new Option<string?>("--metrics-listen") { Description = $"Serve the node's metrics for Prometheus to scrape at http://host:port{MetricsExport.ScrapePath} (unauthenticated: counts only, no keys or values). See docs/observability.md." };
        var otlpEndPoint = new Option<string?>("--otlp-endpoint") { Description = $"Export the node's metrics with OTLP to this collector URL (e.g. http://127.0.0.1:4317). Default: the {MetricsExport.OtlpVariable} environment variable, if set; OTEL_EXPORTER_OTLP_PROTOCOL and OTEL_METRIC_EXPORT_INTERVAL apply." };
        var advertise = new Option<string?>("--advertise") { Description = "Endpoint clients should use for this node, if not the listen endpoint." };
        var maxMemory = new Option<string>("--max-memory") { Description = $"The memory limit for keys, values and index, e.g. 256m, 4g or 4gb (default {ServeSettings.DefaultMaxMemory}; k, m, g are powers of 1024, as redis's kb, mb, gb), as redis's maxmemory: memory is registered in chunks as the store fills, and a write that finds it full is handled by --eviction. At most 64g." };
        var regionSize = new Option<string>("--region-size") { Description = "Deprecated name of --max-memory (the node no longer registers it all up front); give one or the other." };
        var slabSize = new Option<string>("--slab-size") { Description = $"Slab size, a power of two, e.g. 1m (default {defaults.SlabSize})." };
        var maxValueSize = new Option<string?>("--max-value-size") { Description = "The largest value a write may store, e.g. 16m (the default) or 48m, at most 63.9m: a value over it is refused with ValueTooLarge. A value larger than a slab is stored over several slabs in a row and read in pieces. A secondary refuses to follow a primary whose limit (or --max-memory) is above its own: give both nodes the same." };
        var eviction = new Option<string>("--eviction") { Description = $"What a write that finds the store full does: noeviction (fail with OutOfMemory), allkeys-lru (evict a key not read lately; for caches), allkeys-lfu (evict a key read rarely) or volatile-ttl (evict the key with an expiry nearest to expiring; fail when none has one) (default {defaults.Eviction})." };
        eviction.AcceptOnlyFromAmong([.. EvictionPolicyNames.All]);
        var replication = new Option<string>("--replication") { Description = $"sync (acknowledge after the secondary applied) or async (default {defaults.Replication})." };
        replication.AcceptOnlyFromAmong("sync", "async");
        var verbose = new Option<bool>("--verbose") { Description = "Log debug detail." };
        var peer = new Option<string?>("--peer") { Description = "For a primary: the other node of the pair, asked first. If it is already primary (it was promoted while this node was down), this node joins it as secondary instead. One that is there but does not answer (a paused process) is asked again for up to 30 s; then the start fails rather than make a second primary." };
        Option<string?> secretFile = SecretSource.ClientFileOption();
        var peerSecretFile = new Option<string?>("--peer-secret-file") { Description = $"File holding the secret of the link between the two nodes (both need the same). Default: the {SecretSource.PeerVariable} environment variable, else the client secret." };
        var allowUnauthenticated = new Option<bool>("--allow-unauthenticated") { Description = "Listen on a non-loopback address without a secret: anyone who can reach it can read and write." };
        var maxConnections = new Option<int>("--max-connections") { Description = $"Connections accepted at once; more are refused (default {defaults.MaxConnections})." };
        var eventLoops = new Option<int>("--event-loops") { Description = $"Event-loop threads serving the sockets (default {defaults.EventLoops}: one per four cores); 0 uses the runtime's socket engine. Loops are used on x86-64 Linux only." };
        var spin = new Option<int>("--spin-microseconds") { Description = $"While primary, how long an event loop keeps polling after a burst before it sleeps (default {defaults.SpinMicroseconds}), as long as most spins find work; a secondary sleeps at once. 0 never spins." };
        var config = new Option<string?>("--config") { Description = "JSON file with a \"Node\" section (default: appsettings.json in the working directory, if present). Layers: defaults, this file, MIRRORKV_Node__* environment variables, the command line." };

        var command = new Command("serve", "Run one node (primary or secondary) until SIGTERM or Ctrl+C.")
        {
            role, listen, primary, advertise, respListen, sentinelListen, metricsListen, otlpEndPoint, maxMemory, regionSize, slabSize, maxValueSize, eviction, replication, verbose, peer, coordinator, pairName, cluster, secretFile, peerSecretFile, allowUnauthenticated, maxConnections, eventLoops, spin, config,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            NativeHeap.KeepSmall();

            // The command line is the top configuration layer: only the options actually given.
            var given = new Dictionary<string, string?>();
            void Given<T>(Option<T> option, string key)
            {
                if (parse.GetResult(option) is not null)
                {
                    given[$"{Section}:{key}"] = Convert.ToString(parse.GetValue(option), System.Globalization.CultureInfo.InvariantCulture);
                }
            }

            Given(role, nameof(ServeSettings.Role));
            Given(listen, nameof(ServeSettings.Listen));
            Given(primary, nameof(ServeSettings.Primary));
            Given(advertise, nameof(ServeSettings.Advertise));
            Given(respListen, nameof(ServeSettings.RespListen));
            Given(sentinelListen, nameof(ServeSettings.SentinelListen));
            Given(peer, nameof(ServeSettings.Peer));
            Given(metricsListen, nameof(ServeSettings.MetricsListen));
            Given(otlpEndPoint, nameof(ServeSettings.OtlpEndPoint));
            Given(coordinator, nameof(ServeSettings.Coordinator));
            Given(pairName, nameof(ServeSettings.PairName));
            Given(maxMemory, nameof(ServeSettings.MaxMemory));
            Given(cluster, nameof(ServeSettings.Cluster));
            Given(regionSize, nameof(ServeSettings.RegionSize));
            Given(slabSize, nameof(ServeSettings.SlabSize));
            Given(maxValueSize, nameof(ServeSettings.MaxValueSize));
            Given(eviction, nameof(ServeSettings.Eviction));
            Given(replication, nameof(ServeSettings.Replication));
            Given(verbose, nameof(ServeSettings.Verbose));
            Given(secretFile, nameof(ServeSettings.SecretFile));
            Given(peerSecretFile, nameof(ServeSettings.PeerSecretFile));
            Given(allowUnauthenticated, nameof(ServeSettings.AllowUnauthenticated));
            Given(maxConnections, nameof(ServeSettings.MaxConnections));
            Given(eventLoops, nameof(ServeSettings.EventLoops));
            Given(spin, nameof(ServeSettings.SpinMicroseconds));

            HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
            string? configFile = parse.GetValue(config) ?? (File.Exists("appsettings.json") ? Path.GetFullPath("appsettings.json") : null);
            if (configFile is not null && !File.Exists(configFile))
            {
                return Fail([$"--config: {configFile} does not exist"]);
            }

            if (configFile is not null)
            {
                try
                {
                    // A full path: a relative one would be looked for beside the executable, not where it was given.
                    builder.Configuration.AddJsonFile(Path.GetFullPath(configFile), optional: false);
                }
                catch (InvalidDataException e)
                {
                    // The JSON reader's own words (line and position), not the configuration loader's stack.
                    return Fail([$"--config: {configFile} is not valid JSON: {e.GetBaseException().Message}"]);
                }

                // A misspelt section ("Nodes") would be ignored whole, every setting in it silently not applied. The
                // file's own top-level keys, as its provider read them: the environment's and the host's are not in it.
                IConfigurationProvider file = ((IConfigurationRoot)builder.Configuration).Providers.OfType<JsonConfigurationProvider>().Last();
                foreach (string section in file.GetChildKeys([], null).Distinct(StringComparer.OrdinalIgnoreCase))
                {
                    if (!section.Equals(Section, StringComparison.OrdinalIgnoreCase) && !section.Equals("Logging", StringComparison.OrdinalIgnoreCase))
                    {
                        Console.Error.WriteLine($"warning: {configFile}: section {section} is not read and is ignored (the node's settings go under {Section}; Logging is the host's)");
                    }
                }
            }

            builder.Configuration.AddEnvironmentVariables("MIRRORKV_");
            builder.Configuration.AddInMemoryCollection(given);
            var settings = new ServeSettings();
            try
            {
                builder.Configuration.GetSection(Section).Bind(settings);
                foreach (string unknown in ServeSettings.UnknownKeys(builder.Configuration.GetSection(Section)))
                {
                    // Ignored by the binder: most often a misspelt setting, whose intended value would silently not apply.
                    Console.Error.WriteLine($"warning: configuration key {Section}:{unknown} is not a setting and is ignored (settings: {string.Join(", ", ServeSettings.Keys)})");
                }
            }
            catch (InvalidOperationException e)
            {
                return Fail([$"configuration: {e.Message}"]);
            }

            (NodeOptions? options, ServeSecrets secrets, IPEndPoint? peerEndPoint, List<string> errors) = ToNodeOptions(settings);
            MetricsExport? metrics = ToMetricsExport(settings, errors);
            if (metrics is null)
            {
                options = null;
            }

            var transport = new TcpTransportOptions { EventLoops = settings.EventLoops, SpinMicroseconds = settings.SpinMicroseconds };
            try
            {
                transport.Validate();
            }
            catch (ArgumentOutOfRangeException e)
            {
                (string setting, int max) = e.ParamName == nameof(TcpTransportOptions.EventLoops)
                    ? ("--event-loops (Node:EventLoops)", TcpTransportOptions.MaxEventLoops)
                    : ("--spin-microseconds (Node:SpinMicroseconds)", TcpTransportOptions.MaxSpinMicroseconds);
                errors.Add($"{setting}: must be between 0 and {max}; got {e.ActualValue}");
                options = null;
            }

            if (options is null)
            {
                return Fail(errors);
            }

            NodeStatus? other;
            try
            {
                other = options.Role == NodeRole.Primary && peerEndPoint is not null ? await OtherPrimaryAsync(peerEndPoint, options.Secret, cancellationToken) : null;
            }
            catch (MirrorKvException e)
            {
                return Fail([$"--peer {peerEndPoint}: cannot tell whether it is primary: {e.Message}"]);
            }

            if (other is not null)
            {
                // Stale role flags after a failover: the other node took over while this one was down. Join it.
                Console.Error.WriteLine($"--peer {peerEndPoint} is {other.Role.ToString().ToLowerInvariant()} at epoch {other.Epoch}: the pair already has a primary, so this node joins it as secondary (copying its data)");
                options = options with { Role = NodeRole.Secondary, PrimaryEndPoint = peerEndPoint };
            }
            else if (options.Role == NodeRole.Primary && options.Coordinator is null)
            {
                options = options with { PeerEndPoint = peerEndPoint };
            }

            builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; })
                .SetMinimumLevel(settings.Verbose ? LogLevel.Debug : LogLevel.Information)
                .AddFilter("Microsoft.Hosting", LogLevel.Warning)
                // A start that fails (a port in use) is reported below as one line; the host would log its stack trace.
                .AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
            builder.Services.AddSingleton(options);
            builder.Services.AddSingleton(secrets);
            builder.Services.AddSingleton(transport with { MaxFrameSize = options.MaxFrameSize });
            builder.Services.AddHostedService<NodeService>();
            metrics!.AddTo(builder, (options.AdvertisedEndPoint ?? options.ListenEndPoint).ToString());
            builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));
            using IHost host = builder.Build();
            try
            {
                await host.RunAsync(cancellationToken);
            }
            catch (Exception e) when (IsStartFailure(e))
            {
                string cause = e.InnerException is { } inner ? $"{e.Message} ({inner.Message})" : e.Message;
                return Fail([$"cannot start the {options.Role.ToString().ToLowerInvariant()}: {cause}"]);
            }

            return 0;
        });
        return command;
    }

    // Apart, so that compiling the command's body does not load HttpListener's assembly (the scrape endpoint's): a
    // node without one never needs it.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static bool IsStartFailure(Exception e) =>
        e is System.Net.Sockets.SocketException or TimeoutException or InvalidOperationException or IOException or HttpListenerException;

    /// <summary>Checks the layered settings and turns them into node options, naming each bad one.</summary>
    private static (NodeOptions? Options, ServeSecrets Secrets, IPEndPoint? Peer, List<string> Errors) ToNodeOptions(ServeSettings settings)
    {
        var errors = new List<string>();
        if (settings.Role is not ("primary" or "secondary"))
        {
            errors.Add($"--role (Node:Role): must be primary or secondary; got '{settings.Role}'");
        }

        if (settings.Replication is not ("sync" or "async"))
        {
            errors.Add($"--replication (Node:Replication): must be sync or async; got '{settings.Replication}'");
        }

        IPEndPoint? listenEndPoint = ParseEndPoint(settings.Listen, "--listen (Node:Listen)", errors);
        IPEndPoint? primaryEndPoint = settings.Primary is null ? null : ParseEndPoint(settings.Primary, "--primary (Node:Primary)", errors);
        IPEndPoint? peerEndPoint = settings.Peer is null ? null : ParseEndPoint(settings.Peer, "--peer (Node:Peer)", errors);
        IPEndPoint? advertised = settings.Advertise is null ? null : ParseEndPoint(settings.Advertise, "--advertise (Node:Advertise)", errors);
        IPEndPoint? respListen = string.IsNullOrWhiteSpace(settings.RespListen) ? null : ParseEndPoint(settings.RespListen, "--resp-listen (Node:RespListen)", errors);
        IPEndPoint? sentinelListen = string.IsNullOrWhiteSpace(settings.SentinelListen) ? null : ParseEndPoint(settings.SentinelListen, "--sentinel-listen (Node:SentinelListen)", errors);
        foreach ((IPEndPoint? other, string option) in new[] { (primaryEndPoint, "--primary (Node:Primary)"), (peerEndPoint, "--peer (Node:Peer)") })
        {
            // A node asking itself would wait for itself (--primary) or never find its peer (--peer).
            if (other is not null && (other.Equals(listenEndPoint) || other.Equals(advertised)))
            {
                errors.Add($"{option}: {other} is this node's own endpoint; give the other node's");
            }
        }
        ulong maxMemory = MaxMemory(settings, errors, out string maxMemoryOption);
        CoordinatorOptions? coordinator = null;
        if (!string.IsNullOrWhiteSpace(settings.Coordinator))
        {
            var urls = new List<Uri>();
            foreach (string part in settings.Coordinator.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (Uri.TryCreate(part, UriKind.Absolute, out Uri? url) && url.Scheme is "http" or "https")
                {
                    urls.Add(url);
                }
                else
                {
                    errors.Add($"--coordinator (Node:Coordinator): '{part}' is not an etcd URL such as http://127.0.0.1:2379");
                }
            }

            coordinator = new CoordinatorOptions { EndPoints = urls, PairName = settings.PairName, Cluster = string.IsNullOrWhiteSpace(settings.Cluster) ? null : settings.Cluster };
        }
        else if (!string.IsNullOrWhiteSpace(settings.Cluster))
        {
            errors.Add("--cluster (Node:Cluster) needs --coordinator: the cluster map lives in etcd");
        }

        ulong slab = Size(settings.SlabSize, "--slab-size (Node:SlabSize)", errors);
        if (slab != 0 && maxMemory < slab && !errors.Exists(e => e.StartsWith(maxMemoryOption, StringComparison.Ordinal) || e.StartsWith("--region-size", StringComparison.Ordinal)))
        {
            errors.Add($"{maxMemoryOption}: must hold at least one slab (--slab-size {settings.SlabSize}); got {maxMemory} bytes");
        }
        int? maxValue = null;
        if (!string.IsNullOrWhiteSpace(settings.MaxValueSize))
        {
            ulong size = Size(settings.MaxValueSize, "--max-value-size (Node:MaxValueSize)", errors);
            if (size == 0 && !errors.Exists(e => e.StartsWith("--max-value-size", StringComparison.Ordinal)))
            {
                errors.Add($"--max-value-size (Node:MaxValueSize): at least 1 byte (a node that could store no value is no cache); got {settings.MaxValueSize}");
            }
            else if (size > StoreOptions.MaxValueLengthLimit)
            {
                errors.Add($"--max-value-size (Node:MaxValueSize): at most {StoreOptions.MaxValueLengthLimit} bytes (63.9m: a WRITE of the value must fit one 64 MiB frame); got {settings.MaxValueSize}");
            }
            else if (!errors.Exists(e => e.StartsWith("--max-value-size", StringComparison.Ordinal)))
            {
                maxValue = (int)size;
            }
        }

        if (!EvictionPolicyNames.TryParse(settings.Eviction, out EvictionPolicy evictionPolicy))
        {
            errors.Add($"--eviction (Node:Eviction): must be one of {EvictionPolicyNames.Accepted}; got '{settings.Eviction}'");
        }

        byte[]? secret = SecretSource.Read(settings.SecretFile, SecretSource.ClientVariable, "--secret-file", errors, out string? secretOrigin);
        byte[]? peerSecret = SecretSource.Read(settings.PeerSecretFile, SecretSource.PeerVariable, "--peer-secret-file", errors, out string? peerSecretOrigin);
        var secrets = new ServeSecrets(secretOrigin, peerSecretOrigin);
        if (secret is null && listenEndPoint is not null && !IPAddress.IsLoopback(listenEndPoint.Address) && !settings.AllowUnauthenticated)
        {
            errors.Add($"--listen {listenEndPoint}: without a secret a node listens on loopback only. Give a secret (--secret-file or {SecretSource.ClientVariable}), or --allow-unauthenticated to accept anyone who can reach it");
        }

        if (secret is null && sentinelListen is not null && !IPAddress.IsLoopback(sentinelListen.Address) && !settings.AllowUnauthenticated)
        {
            errors.Add($"--sentinel-listen {sentinelListen}: without a secret the sentinel port listens on loopback only. Give a secret (--secret-file or {SecretSource.ClientVariable}; clients send it with AUTH), or --allow-unauthenticated");
        }

        if (secret is null && respListen is not null && !IPAddress.IsLoopback(respListen.Address) && !settings.AllowUnauthenticated)
        {
            errors.Add($"--resp-listen {respListen}: without a secret the RESP port listens on loopback only. Give a secret (--secret-file or {SecretSource.ClientVariable}; clients send it with AUTH), or --allow-unauthenticated");
        }

        if (errors.Count > 0)
        {
            return (null, secrets, peerEndPoint, errors);
        }

        try
        {
            var options = new NodeOptions
            {
                Role = settings.Role == "secondary" ? NodeRole.Secondary : NodeRole.Primary,
                ListenEndPoint = listenEndPoint!,
                PrimaryEndPoint = primaryEndPoint,
                AdvertisedEndPoint = advertised,
                RespListenEndPoint = respListen,
                SentinelListenEndPoint = sentinelListen,
                Store = StoreOptions.Default with { MaxMemory = maxMemory, SlabSize = slab > int.MaxValue ? 0 : (int)slab, Eviction = evictionPolicy, MaxValueLength = maxValue },
                Replication = settings.Replication == "async" ? ReplicationMode.Async : ReplicationMode.Sync,
                Secret = secret,
                PeerSecret = peerSecret,
                MaxConnections = settings.MaxConnections,
                Coordinator = coordinator,
                PairName = settings.PairName,
            };
            options.Validate();
            return (options, secrets, peerEndPoint, errors);
        }
        catch (ArgumentException e)
        {
            errors.Add(e.Message);
            return (null, secrets, peerEndPoint, errors);
        }
    }

    /// <summary>The metrics export settings, checked; null (with the reason in <paramref name="errors"/>) when bad.</summary>
    private static MetricsExport? ToMetricsExport(ServeSettings settings, List<string> errors)
    {
        int before = errors.Count;
        IPEndPoint? scrape = string.IsNullOrWhiteSpace(settings.MetricsListen) ? null : ParseEndPoint(settings.MetricsListen, "--metrics-listen (Node:MetricsListen)", errors);
        if (scrape is { Port: 0 })
        {
            errors.Add("--metrics-listen (Node:MetricsListen): give a port; the scrape endpoint cannot pick one (port 0)");
        }

        Uri? otlp = null;
        if (!string.IsNullOrWhiteSpace(settings.OtlpEndPoint)
            && !(Uri.TryCreate(settings.OtlpEndPoint, UriKind.Absolute, out otlp) && otlp.Scheme is "http" or "https"))
        {
            errors.Add($"--otlp-endpoint (Node:OtlpEndPoint): '{settings.OtlpEndPoint}' is not an http or https URL such as http://127.0.0.1:4317");
        }

        return errors.Count == before ? new MetricsExport(scrape, otlp) : null;
    }

    // A peer that answers as primary (or promoting) means this node was replaced while it was down.
    /// <summary>How long a starting node keeps asking a --peer that is there (its endpoint does not refuse) but does not answer.</summary>
    internal static readonly TimeSpan PeerPatience = TimeSpan.FromSeconds(30);

    // The other node's status when it serves as primary (or is promoting), null when it does not or is gone (nothing
    // listens at its endpoint: the kernel refuses). One that is there but does not answer (a paused or hung process,
    // whose kernel still accepts connections; or a host that does not refuse) may be a primary: it is asked again for
    // PeerPatience, and then the start fails rather than make a second primary.
    private static async Task<NodeStatus?> OtherPrimaryAsync(IPEndPoint peer, byte[]? secret, CancellationToken cancellationToken)
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        bool said = false;
        while (true)
        {
            string why;
            try
            {
                NodeStatus status = await MirrorKvAdmin.GetStatusAsync(peer, timeout: TimeSpan.FromSeconds(1), secret: secret, cancellationToken: cancellationToken);
                return status.Role is NodeRole.Primary or NodeRole.Promoting ? status : null;
            }
            catch (MirrorKvException e) when (e.GetBaseException() is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionRefused })
            {
                // Nothing listens there: the process that did is gone.
                return null;
            }
            catch (MirrorKvException e) when (e.Error != MirrorKvError.AuthenticationFailed)
            {
                // A refused secret is not "gone": it propagates.
                why = e.Message;
            }

            if (System.Diagnostics.Stopwatch.GetElapsedTime(start) >= PeerPatience)
            {
                throw new MirrorKvException(MirrorKvError.Unavailable,
                    $"it did not answer for {PeerPatience.TotalSeconds:F0} s, but it is not gone (its endpoint does not refuse connections: a paused or hung process, or a host that does not answer): it may be serving as primary, so this node does not start as a second one. Start this node as its secondary (--role secondary --primary {peer}), or, if that node is gone for good, without --peer ({why})");
            }

            if (!said)
            {
                Console.Error.WriteLine($"--peer {peer} does not answer but is not gone ({why}): asking again for up to {PeerPatience.TotalSeconds:F0} s before starting");
                said = true;
            }

            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        }
    }

    private static IPEndPoint? ParseEndPoint(string text, string option, List<string> errors)
    {
        if (CliParsers.TryParseEndPoint(text, out IPEndPoint? endPoint, out string? error))
        {
            return endPoint;
        }

        errors.Add($"{option}: {error}");
        return null;
    }

    // --max-memory, or its deprecated name --region-size (not both: two limits would leave one unsaid), within what
    // a store can address.
    private static ulong MaxMemory(ServeSettings settings, List<string> errors, out string option)
    {
        option = settings.RegionSize is not null && settings.MaxMemory is null ? "--region-size (Node:RegionSize)" : "--max-memory (Node:MaxMemory)";
        if (settings.MaxMemory is not null && settings.RegionSize is not null)
        {
            errors.Add($"--region-size (Node:RegionSize) is the deprecated name of --max-memory (Node:MaxMemory): give only --max-memory; got both ({settings.RegionSize} and {settings.MaxMemory})");
            return 0;
        }

        if (settings.RegionSize is not null)
        {
            Console.Error.WriteLine($"warning: --region-size (Node:RegionSize) is deprecated: it now sets --max-memory (Node:MaxMemory), the limit memory is registered up to as the store fills");
        }

        ulong bytes = Size(settings.MaxMemory ?? settings.RegionSize ?? ServeSettings.DefaultMaxMemory, option, errors);
        if (bytes > StoreOptions.MaxMemoryLimit)
        {
            errors.Add($"{option}: must be at most 64g (the index addresses 64 GiB of entries); got {bytes} bytes");
            return 0;
        }

        return bytes;
    }

    private static ulong Size(string text, string option, List<string> errors)
    {
        if (CliParsers.TryParseSize(text, out ulong bytes, out string? error))
        {
            return bytes;
        }

        errors.Add($"{option}: {error}");
        return 0;
    }

    private static int Fail(IEnumerable<string> errors)
    {
        foreach (string error in errors)
        {
            Console.Error.WriteLine($"error: {error}");
        }

        return 2;
    }
}
