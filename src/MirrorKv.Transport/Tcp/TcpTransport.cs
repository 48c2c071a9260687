using System.Net;
using System.Net.Sockets;
using MirrorKv.Protocol;

namespace MirrorKv.Transport.Tcp;

/// <summary>The TCP backend: real sockets, length-prefixed frames, batched reads and writes.</summary>
/// <param name="maxFrameSize">Largest frame a connection accepts before the handshake raises or lowers it.</param>
public sealed class TcpTransport(uint maxFrameSize = ProtocolLimits.DefaultMaxFrameSize) : ITransport
{
    /// <inheritdoc />
    public async ValueTask<IConnection> ConnectAsync(EndPoint endpoint, IFrameHandler handler, CancellationToken cancellationToken)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(endpoint, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var connection = new TcpConnection(socket, handler, maxFrameSize);
        connection.Start();
        return connection;
    }

    /// <inheritdoc />
    public IListener Listen(EndPoint endpoint, IFrameHandler handler)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(endpoint);
            socket.Listen(512);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new TcpListenerLoop(socket, handler, maxFrameSize);
    }

    private sealed class TcpListenerLoop : IListener
    {
        private readonly Socket _socket;
        private readonly IFrameHandler _handler;
        private readonly uint _maxFrameSize;
        private readonly Task _acceptLoop;

        public TcpListenerLoop(Socket socket, IFrameHandler handler, uint maxFrameSize)
        {
            _socket = socket;
            _handler = handler;
            _maxFrameSize = maxFrameSize;
            LocalEndPoint = socket.LocalEndPoint!;
            _acceptLoop = AcceptLoopAsync();
        }

        public EndPoint LocalEndPoint { get; }

        public async ValueTask DisposeAsync()
        {
            _socket.Dispose();
            await _acceptLoop.ConfigureAwait(false);
        }

        private async Task AcceptLoopAsync()
        {
            while (true)
            {
                Socket accepted;
                try
                {
                    accepted = await _socket.AcceptAsync().ConfigureAwait(false);
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.OperationAborted or SocketError.Interrupted or SocketError.Shutdown)
                {
                    return;
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.TooManyOpenSockets)
                {
                    // Out of file descriptors: retrying at once would spin. Pending connections wait in the
                    // backlog meanwhile, and closes elsewhere free descriptors.
                    await Task.Delay(50).ConfigureAwait(false);
                    continue;
                }
                catch (SocketException)
                {
                    // A connection that failed between SYN and accept; keep accepting the others.
                    continue;
                }

                new TcpConnection(accepted, _handler, _maxFrameSize).Start();
            }
        }
    }
}
