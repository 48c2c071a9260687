using System.Net;
using MirrorKv.Adapter.Resp;
using MirrorKv.Protocol;
using MirrorKv.Transport;

namespace MirrorKv.Adapter;

/// <summary>The node's RESP port (<see cref="NodeOptions.RespListenEndPoint"/>), served by the same transport as its native port.</summary>
public sealed partial class MirrorKvNode
{
    private IListener? _respListener;
    private RespHandler? _resp;
    private IListener? _sentinelListener;
    private RespHandler? _sentinel;

    /// <summary>Where the node serves RESP (with the real port); null when it does not.</summary>
    public IPEndPoint? RespEndPoint => _respListener?.LocalEndPoint as IPEndPoint;

    /// <summary>
    /// Where redis clients reach this node's RESP port: <see cref="RespEndPoint"/>, with a wildcard address
    /// (listening on every interface) replaced by the address clients use for the native port.
    /// </summary>
    public IPEndPoint? AdvertisedRespEndPoint => RespEndPoint is not { } resp ? null
        : resp.Address.Equals(IPAddress.Any) || resp.Address.Equals(IPAddress.IPv6Any) ? new IPEndPoint(AdvertisedEndPoint.Address, resp.Port)
        : resp;

    /// <summary>
    /// The other node's RESP endpoint, as it told this one when the link came up (the attached secondary's for a
    /// primary, the primary's for a secondary); null when there is no link or the other node serves no RESP.
    /// </summary>
    public IPEndPoint? PeerRespEndPoint => Role == NodeRole.Primary
        ? Stream.Peer is { IsOpen: true } ? Volatile.Read(ref _secondaryRespEndPoint) : null
        : _link is { Primary: { } primary } link && !link.Dropped ? primary.RespEndPoint : null;

    /// <summary>Open RESP connections.</summary>
    public int RespConnectionCount => _resp?.ConnectionCount ?? 0;

    /// <summary>Commands served on the RESP port since the node started.</summary>
    public long RespCommandCount => _resp?.CommandCount ?? 0;

    /// <summary>Where the node answers as a redis Sentinel (with the real port); null when it does not.</summary>
    public IPEndPoint? SentinelEndPoint => _sentinelListener?.LocalEndPoint as IPEndPoint;

    private void ListenResp(ITransport transport)
    {
        if (Options.RespListenEndPoint is { } endPoint)
        {
            _resp = new RespHandler(this, _waiters, _logger);
            _respListener = Listen(transport, endPoint, _resp, "RESP port (--resp-listen)");
            LogRespListening(RespEndPoint!.ToString());
        }

        if (Options.SentinelListenEndPoint is { } sentinel)
        {
            _sentinel = new RespHandler(this, _waiters, _logger, sentinel: true);
            _sentinelListener = Listen(transport, sentinel, _sentinel, "sentinel port (--sentinel-listen)");
            _sentinel.StartSwitchMasterWatch();
            LogSentinelListening(SentinelEndPoint!.ToString(), Options.EffectivePairName);
        }
    }

    // A port that cannot be bound is named: the native port's own error is the socket's alone, and a node has three.
    private static IListener Listen(ITransport transport, IPEndPoint endPoint, RespHandler handler, string what)
    {
        try
        {
            return transport.ListenStream(endPoint, handler);
        }
        catch (System.Net.Sockets.SocketException e)
        {
            throw new InvalidOperationException($"cannot listen on {endPoint} for the {what}: {e.Message}", e);
        }
    }

    private async ValueTask StopRespAsync()
    {
        _sentinel?.StopSwitchMasterWatch();
        foreach ((IListener? listener, RespHandler? handler) in new[] { (_respListener, _resp), (_sentinelListener, _sentinel) })
        {
            if (listener is not null)
            {
                await listener.DisposeAsync().ConfigureAwait(false);
            }

            foreach (IConnection connection in handler?.OpenConnections ?? [])
            {
                connection.Abort(null);
            }
        }
    }

    private void SweepConnections()
    {
        _handler.Sweep();
        _resp?.Sweep();
        _sentinel?.Sweep();
    }

    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Information, Message = "RESP listening on {EndPoint}")]
    private partial void LogRespListening(string endPoint);

    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Information, Message = "Sentinel listening on {EndPoint} for the pair {PairName}")]
    private partial void LogSentinelListening(string endPoint, string pairName);
}
