using System.CommandLine;
using System.Net;
using MirrorKv.Adapter;
using MirrorKv.Client;
using MirrorKv.Protocol;
using MirrorKv.Store;
using MirrorKv.Transport.Tcp;
using Microsoft.Extensions.Logging;

namespace MirrorKv.Cli.Serve;

/// <summary><c>mirrorkv serve</c>: runs one node of a pair as this process until SIGTERM or Ctrl+C.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var role = new Option<string>("--role") { Description = "primary or secondary.", DefaultValueFactory = _ => "primary" };
        role.AcceptOnlyFromAmong("primary", "secondary");
        var listen = new Option<string>("--listen") { Description = "Endpoint to listen on (host:port). Without a secret, only a loopback address is accepted (see --allow-unauthenticated).", DefaultValueFactory = _ => "127.0.0.1:7400" };
        var primary = new Option<string?>("--primary") { Description = "For a secondary: the primary's endpoint (host:port)." };
        var advertise = new Option<string?>("--advertise") { Description = "Endpoint clients should use for this node, if not the listen endpoint." };
        var regionSize = new Option<string>("--region-size") { Description = "Registered memory, e.g. 256m or 1g.", DefaultValueFactory = _ => "256m" };
        var slabSize = new Option<string>("--slab-size") { Description = "Slab size, a power of two, e.g. 1m.", DefaultValueFactory = _ => "1m" };
        var replication = new Option<string>("--replication") { Description = "sync (acknowledge after the secondary applied) or async.", DefaultValueFactory = _ => "sync" };
        replication.AcceptOnlyFromAmong("sync", "async");
        var verbose = new Option<bool>("--verbose") { Description = "Log debug detail." };
        var peer = new Option<string?>("--peer") { Description = "For a primary: the other node of the pair. If it is already primary (it was promoted while this node was down), this node refuses to start as primary." };

        Option<string?> secretFile = SecretSource.ClientFileOption();
        var peerSecretFile = new Option<string?>("--peer-secret-file") { Description = $"File holding the secret of the link between the two nodes (both need the same). Default: the {SecretSource.PeerVariable} environment variable, else the client secret." };
        var allowUnauthenticated = new Option<bool>("--allow-unauthenticated") { Description = "Listen on a non-loopback address without a secret: anyone who can reach it can read and write." };
        var maxConnections = new Option<int>("--max-connections") { Description = "Connections accepted at once; more are refused.", DefaultValueFactory = _ => new NodeOptions().MaxConnections };

        var command = new Command("serve", "Run one node (primary or secondary) until SIGTERM or Ctrl+C.")
        {
            role, listen, primary, advertise, regionSize, slabSize, replication, verbose, peer, secretFile, peerSecretFile, allowUnauthenticated, maxConnections,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var errors = new List<string>();
            IPEndPoint? listenEndPoint = Endpoint(parse.GetValue(listen)!, "--listen", errors);
            string? primaryText = parse.GetValue(primary);
            IPEndPoint? primaryEndPoint = primaryText is null ? null : Endpoint(primaryText, "--primary", errors);
            string? peerText = parse.GetValue(peer);
            IPEndPoint? peerEndPoint = peerText is null ? null : Endpoint(peerText, "--peer", errors);
            string? advertiseText = parse.GetValue(advertise);
            IPEndPoint? advertised = advertiseText is null ? null : Endpoint(advertiseText, "--advertise", errors);
            ulong region = Size(parse.GetValue(regionSize)!, "--region-size", errors);
            ulong slab = Size(parse.GetValue(slabSize)!, "--slab-size", errors);
            byte[]? secret = SecretSource.Read(parse.GetValue(secretFile), SecretSource.ClientVariable, "--secret-file", errors, out string? secretOrigin);
            byte[]? peerSecret = SecretSource.Read(parse.GetValue(peerSecretFile), SecretSource.PeerVariable, "--peer-secret-file", errors, out string? peerSecretOrigin);
            if (secret is null && listenEndPoint is not null && !IPAddress.IsLoopback(listenEndPoint.Address) && !parse.GetValue(allowUnauthenticated))
            {
                errors.Add($"--listen {listenEndPoint}: without a secret a node listens on loopback only. Give a secret (--secret-file or {SecretSource.ClientVariable}), or --allow-unauthenticated to accept anyone who can reach it");
            }

            if (errors.Count > 0)
            {
                return Fail(errors);
            }

            NodeOptions options;
            try
            {
                options = new NodeOptions
                {
                    Role = parse.GetValue(role) == "secondary" ? NodeRole.Secondary : NodeRole.Primary,
                    ListenEndPoint = listenEndPoint!,
                    PrimaryEndPoint = primaryEndPoint,
                    AdvertisedEndPoint = advertised,
                    Store = StoreOptions.Default with { RegionSize = region, SlabSize = slab > int.MaxValue ? 0 : (int)slab },
                    Replication = parse.GetValue(replication) == "async" ? ReplicationMode.Async : ReplicationMode.Sync,
                    Secret = secret,
                    PeerSecret = peerSecret,
                    MaxConnections = parse.GetValue(maxConnections),
                };
                options.Validate();
            }
            catch (ArgumentException e)
            {
                return Fail([e.Message]);
            }

            NodeStatus? other;
            try
            {
                other = options.Role == NodeRole.Primary && peerEndPoint is not null ? await OtherPrimaryAsync(peerEndPoint, secret, cancellationToken) : null;
            }
            catch (MirrorKvException e)
            {
                return Fail([$"--peer {peerEndPoint}: cannot tell whether it is primary: {e.Message}"]);
            }

            if (other is not null)
            {
                return Fail([$"the pair already has a primary: {peerEndPoint} is {other.Role.ToString().ToLowerInvariant()} at epoch {other.Epoch}. A node that comes back after a failover joins as secondary: --role secondary --primary {peerEndPoint}"]);
            }

            using ILoggerFactory loggers = LoggerFactory.Create(b => b
                .AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; })
                .SetMinimumLevel(parse.GetValue(verbose) ? LogLevel.Debug : LogLevel.Information));
            ILogger logger = loggers.CreateLogger("MirrorKv.Serve");
            MirrorKvNode node;
            try
            {
                node = await MirrorKvNode.StartAsync(options, new TcpTransport(options.MaxFrameSize), loggers, cancellationToken);
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or TimeoutException or InvalidOperationException or IOException)
            {
                return Fail([$"cannot start the {options.Role.ToString().ToLowerInvariant()}: {e.Message}"]);
            }

            await using (node)
            {
                if (secret is null && !IPAddress.IsLoopback(node.EndPoint.Address))
                {
                    logger.LogWarning("listening on {EndPoint} without a secret (--allow-unauthenticated): anyone who can reach it can read and write", node.EndPoint);
                }
                else if (secret is null)
                {
                    logger.LogInformation("no secret: clients and the peer are not authenticated, so this node listens on loopback only ({EndPoint}); give --secret-file or {Variable} to serve other hosts", node.EndPoint, SecretSource.ClientVariable);
                }
                else
                {
                    logger.LogInformation("clients prove the secret from the {Origin}; the peer link proves the secret from the {PeerOrigin}", secretOrigin, peerSecretOrigin ?? secretOrigin);
                }

                // A line scripts and tests can wait for.
                Console.Out.WriteLine($"ready role={node.Role.ToString().ToLowerInvariant()} endpoint={node.EndPoint} epoch={node.Epoch} rkey=0x{node.Store.Region.RKey:x8}");
                Console.Out.Flush();
                try
                {
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    logger.LogInformation("shutting down at LSN {Lsn}", node.Lsn);
                }
            }

            return 0;
        });
        return command;
    }

    // A peer that answers as primary (or promoting) means this node was replaced while it was down.
    private static async Task<NodeStatus?> OtherPrimaryAsync(IPEndPoint peer, byte[]? secret, CancellationToken cancellationToken)
    {
        try
        {
            NodeStatus status = await MirrorKvAdmin.GetStatusAsync(peer, timeout: TimeSpan.FromSeconds(1), secret: secret, cancellationToken: cancellationToken);
            return status.Role is NodeRole.Primary or NodeRole.Promoting ? status : null;
        }
        catch (MirrorKvException e) when (e.Error != MirrorKvError.AuthenticationFailed)
        {
            // Unreachable: it is down, so this node may be primary. A refused secret is not that: it propagates.
            return null;
        }
    }

    private static IPEndPoint? Endpoint(string text, string option, List<string> errors)
    {
        if (CliParsers.TryParseEndPoint(text, out IPEndPoint? endPoint, out string? error))
        {
            return endPoint;
        }

        errors.Add($"{option}: {error}");
        return null;
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
