using System.Net;
using System.Net.Sockets;
using MirrorKv.Transport.Sockets;

namespace MirrorKv.Transport.Tcp;

/// <summary>A connection over a TCP socket: one receive per batch in, one send per batch out.</summary>
internal sealed class TcpConnection : FramedConnection
{
    private readonly Socket _socket;

    public TcpConnection(Socket socket, ConnectionHandler handler, uint maxFrameSize)
        : base(handler, socket.RemoteEndPoint ?? new IPEndPoint(IPAddress.None, 0), maxFrameSize)
    {
        _socket = socket;
        _socket.NoDelay = true;
    }

    /// <summary>Announces the connection and starts the receive loop.</summary>
    public void Start()
    {
        AnnounceOpened();
        _ = ReceiveLoopAsync();
    }

    protected override async ValueTask WriteAsync(ReadOnlyMemory<byte> batch)
    {
        while (!batch.IsEmpty)
        {
            int sent = await _socket.SendAsync(batch, SocketFlags.None).ConfigureAwait(false);
            batch = batch[sent..];
        }
    }

    protected override void CloseTransport() => SocketClose.ShutdownAndDispose(_socket);

    private async Task ReceiveLoopAsync()
    {
        Exception? error = null;
        try
        {
            while (IsOpen)
            {
                int received = await _socket.ReceiveAsync(Receive.WritableMemory(), SocketFlags.None).ConfigureAwait(false);
                if (received == 0)
                {
                    break;
                }

                Receive.Advance(received);
                DeliverReceived();
                await WhileHeldAsync().ConfigureAwait(false);
            }
        }
        catch (SocketException e)
        {
            error = e;
        }
        catch (ObjectDisposedException)
        {
            // Closed locally while a receive was pending.
        }

        Abort(error);
    }
}
