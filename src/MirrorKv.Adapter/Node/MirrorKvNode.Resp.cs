using System.Net;
using MirrorKv.Adapter.Resp;
using MirrorKv.Transport;

namespace MirrorKv.Adapter;

/// <summary>The node's RESP port (<see cref="NodeOptions.RespListenEndPoint"/>), served by the same transport as its native port.</summary>
public sealed partial class MirrorKvNode
{
    private IListener? _respListener;
    private RespHandler? _resp;

    /// <summary>Where the node serves RESP (with the real port); null when it does not.</summary>
    public IPEndPoint? RespEndPoint => _respListener?.LocalEndPoint as IPEndPoint;

    /// <summary>Open RESP connections.</summary>
    public int RespConnectionCount => _resp?.ConnectionCount ?? 0;

    /// <summary>Commands served on the RESP port since the node started.</summary>
    public long RespCommandCount => _resp?.CommandCount ?? 0;

    private void ListenResp(ITransport transport)
    {
        if (Options.RespListenEndPoint is { } endPoint)
        {
            _resp = new RespHandler(this, _waiters, _logger);
            _respListener = transport.ListenStream(endPoint, _resp);
            LogRespListening(RespEndPoint!.ToString());
        }
    }

    private async ValueTask StopRespAsync()
    {
        if (_respListener is not null)
        {
            await _respListener.DisposeAsync().ConfigureAwait(false);
        }

        if (_resp is not null)
        {
            foreach (IConnection connection in _resp.OpenConnections)
            {
                connection.Abort(null);
            }
        }
    }

    private void SweepConnections()
    {
        _handler.Sweep();
        _resp?.Sweep();
    }

    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Information, Message = "RESP listening on {EndPoint}")]
    private partial void LogRespListening(string endPoint);
}
