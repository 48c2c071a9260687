using System.Net;
using MirrorKv.Adapter;
using MirrorKv.Protocol;
using MirrorKv.Transport.Tcp;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MirrorKv.Cli.Serve;

/// <summary>
/// The node as a hosted service: started with the host, stopped (connections closed, region released) when
/// the host stops on SIGTERM or Ctrl+C.
/// </summary>
internal sealed partial class NodeService(NodeOptions options, ServeSecrets secrets, TcpTransportOptions transportOptions, ILoggerFactory loggers, ILogger<NodeService> logger) : IHostedService
{
    private PairMember? _member;
    private Timer? _spinByRole;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // The loops spin only while this node is primary. A secondary's wake-up is on every sync write's path too, but
        // its spinning takes CPU from the primary and the clients wherever they share cores: measured in turns, it
        // gained a few percent in one row (RESP SET at P = 1, 50 clients) and lost as much in another (4 native
        // connections at P = 1), docs/benchmarks.md.
        var transport = new TcpTransport(transportOptions with { SpinMicroseconds = 0 });

        // A member, not a bare node: after a fence it rejoins the current primary as secondary by itself.
        PairMember member = _member = await PairMember.StartAsync(options, transport, loggers, cancellationToken);
        member.Rejoined += node => Ready(node);
        _spinByRole = new Timer(_ => transport.SpinMicroseconds = member.Node.Role == NodeRole.Primary ? transportOptions.SpinMicroseconds : 0, null, TimeSpan.Zero, TimeSpan.FromMilliseconds(100));
        MirrorKvNode node = member.Node;
        if (options.Secret is null && !IPAddress.IsLoopback(node.EndPoint.Address))
        {
            LogUnauthenticatedRemote(node.EndPoint.ToString());
        }
        else if (options.Secret is null)
        {
            LogLoopbackOnly(node.EndPoint.ToString(), SecretSource.ClientVariable);
        }
        else
        {
            LogAuthenticated(secrets.ClientOrigin ?? "?", secrets.PeerOrigin ?? secrets.ClientOrigin ?? "?");
        }

        Ready(node);
    }

    // A line scripts and tests can wait for; printed again by each new incarnation after a rejoin.
    private static void Ready(MirrorKvNode node)
    {
        string resp = node.RespEndPoint is { } respEndPoint ? $" resp={respEndPoint}" : "";
        Console.Out.WriteLine($"ready role={node.Role.ToString().ToLowerInvariant()} endpoint={node.EndPoint} epoch={node.Epoch} max-memory={node.Store.Options.MaxMemory >> 20}MiB regions={node.Store.Regions.Count} max-value-size={node.Store.Options.EffectiveMaxValueLength}{resp}");
        Console.Out.Flush();
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_spinByRole is { } timer)
        {
            await timer.DisposeAsync();
        }

        if (_member is { } member)
        {
            LogShuttingDown(member.Node.Lsn);
            await member.DisposeAsync();

            // The last line of a planned stop, so that an operator reading the journal knows it finished.
            LogStopped(member.Node.Lsn);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "listening on {EndPoint} without a secret (--allow-unauthenticated): anyone who can reach it can read and write")]
    private partial void LogUnauthenticatedRemote(string endPoint);

    [LoggerMessage(Level = LogLevel.Information, Message = "no secret: clients and the peer are not authenticated, so this node listens on loopback only ({EndPoint}); give --secret-file or {Variable} to serve other hosts")]
    private partial void LogLoopbackOnly(string endPoint, string variable);

    [LoggerMessage(Level = LogLevel.Information, Message = "clients prove the secret from the {Origin}; the peer link proves the secret from the {PeerOrigin}")]
    private partial void LogAuthenticated(string origin, string peerOrigin);

    [LoggerMessage(Level = LogLevel.Information, Message = "shutting down at LSN {Lsn}")]
    private partial void LogShuttingDown(ulong lsn);

    [LoggerMessage(Level = LogLevel.Information, Message = "stopped at LSN {Lsn}: every connection closed, memory released")]
    private partial void LogStopped(ulong lsn);
}
