using System.Net;
using System.Net.Sockets;

namespace MirrorKv.Adapter.Tests;

/// <summary>
/// A TCP relay in front of a node that closes the first connections it accepts right after their first
/// bytes (a handshake cut under the dialler), and relays every later one both ways.
/// </summary>
internal sealed class CuttingRelay : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Socket> _sockets = [];
    private readonly Task _accepting;
    private int _toCut;
    private int _cut;

    public CuttingRelay(IPEndPoint target, int cutFirst)
    {
        _target = target;
        _toCut = cutFirst;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

    /// <summary>Connections closed after their first bytes so far.</summary>
    public int Cut => Volatile.Read(ref _cut);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        lock (_sockets)
        {
            foreach (Socket socket in _sockets)
            {
                socket.Dispose();
            }
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket inbound = await _listener.AcceptSocketAsync(_stop.Token);
            Track(inbound);
            if (Interlocked.Decrement(ref _toCut) >= 0)
            {
                _ = CutAsync(inbound);
                continue;
            }

            var outbound = new Socket(SocketType.Stream, ProtocolType.Tcp);
            Track(outbound);
            await outbound.ConnectAsync(_target, _stop.Token);
            _ = PumpAsync(inbound, outbound);
            _ = PumpAsync(outbound, inbound);
        }
    }

    private async Task CutAsync(Socket socket)
    {
        await socket.ReceiveAsync(new byte[256], SocketFlags.None, _stop.Token);
        socket.Close();
        Interlocked.Increment(ref _cut);
    }

    private static async Task PumpAsync(Socket from, Socket to)
    {
        byte[] buffer = new byte[64 * 1024];
        try
        {
            int received;
            while ((received = await from.ReceiveAsync(buffer, SocketFlags.None)) > 0)
            {
                await to.SendAsync(buffer.AsMemory(0, received), SocketFlags.None);
            }

            to.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Either side went away: the relay's sockets are closed on dispose.
        }
    }

    private void Track(Socket socket)
    {
        lock (_sockets)
        {
            _sockets.Add(socket);
        }
    }
}
