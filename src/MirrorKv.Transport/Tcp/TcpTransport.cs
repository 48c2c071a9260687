using System.Net;
using System.Net.Sockets;
using MirrorKv.Transport.Epoll;

namespace MirrorKv.Transport.Tcp;

/// <summary>The TCP backend: real sockets, length-prefixed frames, batched reads and writes.</summary>
public sealed class TcpTransport : ITransport
{
    private readonly uint _maxFrameSize;
    private readonly EpollLoopGroup? _loops;

    /// <summary>A transport with the default options: event loops of our own where supported.</summary>
    /// <param name="maxFrameSize">Largest frame a connection accepts before the handshake raises or lowers it.</param>
    public TcpTransport(uint maxFrameSize = FrameLayout.DefaultMaxFrameSize)
        : this(new TcpTransportOptions { MaxFrameSize = maxFrameSize })
    {
    }

    /// <summary>A transport shaped by <paramref name="options"/> (event loops of our own, where supported).</summary>
    public TcpTransport(TcpTransportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _maxFrameSize = options.MaxFrameSize;
        _loops = options.EventLoops > 0 && EpollNative.IsSupported ? EpollLoopGroup.Get(options.EventLoops) : null;
        if (_loops is not null && options.SpinMicroseconds > 0)
        {
            _loops.SpinMicroseconds = options.SpinMicroseconds;
        }
    }

    /// <summary>True when connections are served by event loops of our own rather than the runtime's socket engine.</summary>
    public bool UsesEventLoops => _loops is not null;

    /// <summary>
    /// The event loops' spin time (see <see cref="TcpTransportOptions.SpinMicroseconds"/>), changeable while
    /// running: a node spins while it is primary and sleeps at once while secondary. Shared with the
    /// process's other transports that have as many loops. Always 0 without event loops.
    /// </summary>
    public int SpinMicroseconds
    {
        get => _loops?.SpinMicroseconds ?? 0;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, TcpTransportOptions.MaxSpinMicroseconds);
            if (_loops is not null)
            {
                _loops.SpinMicroseconds = value;
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask<IConnection> ConnectAsync(EndPoint endPoint, IFrameHandler handler, CancellationToken cancellationToken)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (_loops is null)
            {
                await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await ConnectOutsideEngineAsync(socket, endPoint, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return Start(socket, new ConnectionHandler(handler));
    }

    private IConnection Start(Socket socket, ConnectionHandler handler)
    {
        if (_loops is { } loops)
        {
            var served = new EpollConnection(socket, loops.Next(), handler, _maxFrameSize);
            served.Start();
            return served;
        }

        var connection = new TcpConnection(socket, handler, _maxFrameSize);
        connection.Start();
        return connection;
    }

    /// <summary>
    /// Connects without the runtime's socket engine ever seeing the socket (its async connect would register
    /// the socket with the engine's epoll set for good, and every later receive would wake that thread too):
    /// a non-blocking connect, then poll(2) for the outcome in short steps that notice cancellation.
    /// </summary>
    private static async Task ConnectOutsideEngineAsync(Socket socket, EndPoint endPoint, CancellationToken cancellationToken)
    {
        socket.Blocking = false;
        try
        {
            socket.Connect(endPoint);
            return;
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress)
        {
        }

        while (!socket.Poll(TimeSpan.Zero, SelectMode.SelectWrite) && !socket.Poll(TimeSpan.Zero, SelectMode.SelectError))
        {
            await Task.Delay(1, cancellationToken).ConfigureAwait(false);
        }

        int error = (int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error)!;
        if (error != 0)
        {
            throw new SocketException(error);
        }
    }

    /// <inheritdoc />
    public IListener Listen(EndPoint endPoint, IFrameHandler handler) => Listen(endPoint, new ConnectionHandler(handler));

    /// <inheritdoc />
    public IListener ListenStream(EndPoint endPoint, IStreamHandler handler) => Listen(endPoint, new ConnectionHandler(handler));

    private TcpListenerLoop Listen(EndPoint endPoint, ConnectionHandler handler)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(endPoint);
            socket.Listen(512);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new TcpListenerLoop(socket, handler, this);
    }

    private sealed class TcpListenerLoop : IListener
    {
        private readonly Socket _socket;
        private readonly ConnectionHandler _handler;
        private readonly TcpTransport _transport;
        private readonly Task _acceptLoop;

        public TcpListenerLoop(Socket socket, ConnectionHandler handler, TcpTransport transport)
        {
            _socket = socket;
            _handler = handler;
            _transport = transport;
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

                try
                {
                    _transport.Start(accepted, _handler);
                }
                catch (SocketException)
                {
                    // Reset before it could be set up (or the event loop refused it): nothing to serve.
                    accepted.Dispose();
                }
            }
        }
    }
}
