using System.Net;
using System.Net.Sockets;
using MirrorKv.Protocol;

namespace MirrorKv.Cli.Chaos;

/// <summary>
/// A TCP relay in front of one node, so that chaos can cut the peer link between real processes. The node
/// advertises the relay's endpoint (<c>serve --advertise</c>), so its peer, its clients and a node rejoining
/// it all connect here. The relay reads the first frame of each accepted connection (HELLO) to learn its
/// peer kind; <see cref="Cut"/> applies to peer-adapter connections only, clients always pass.
/// </summary>
/// <remarks>
/// A cut is a black hole, not a reset: the sockets stay open and the senders see no error, but nothing
/// crosses in the cut direction, neither bytes nor a close. The relay stops forwarding and holds what it has
/// read (the rest waits in the kernel's buffers); <see cref="Restore"/> delivers it. That is what TCP does
/// over a route that black-holes for a few seconds and comes back: it retransmits, and the stream arrives
/// late but whole. Discarding the bytes instead would hand the node a stream with a hole in the middle of a
/// frame, which no TCP connection ever delivers. A close or reset seen while cut is passed on at the restore,
/// as a reset (RST) when one side was reset, as a close (FIN) otherwise.
/// Threading: accept and pumps run on the thread pool (or inline on socket completions); Cut and Restore
/// may be called from any thread.
/// </remarks>
internal sealed class PeerLinkRelay : IAsyncDisposable
{
    // A HELLO is 16 + 32 bytes, a 1.1 peer's 16 + 52 (docs/protocol.md); a longer first frame is not a HELLO we classify.
    private const int LargestHello = FrameHeader.Size + HelloRequest.Size + WireEndPoint.Size;

    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly HashSet<Socket> _sockets = [];
    private readonly Gate _toNode = new();
    private readonly Gate _fromNode = new();
    private readonly Task _accepting;
    private long _held;
    private int _peerConnections;
    private int _clientConnections;

    /// <summary>A relay on a free loopback port in front of the node listening at <paramref name="target"/>.</summary>
    public PeerLinkRelay(IPEndPoint target)
    {
        _target = target;
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(128);
        EndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        _accepting = AcceptAsync();
    }

    /// <summary>Where the node's peer and clients connect: the endpoint the node advertises.</summary>
    public IPEndPoint EndPoint { get; }

    /// <summary>Bytes read from a peer connection and held at a cut, not yet forwarded.</summary>
    public long HeldBytes => Interlocked.Read(ref _held);

    /// <summary>Connections classified as the peer adapter's so far.</summary>
    public int PeerConnections => Volatile.Read(ref _peerConnections);

    /// <summary>Connections classified as clients' so far (any first frame that is not a peer's HELLO).</summary>
    public int ClientConnections => Volatile.Read(ref _clientConnections);

    /// <summary>Black-holes peer connections in <paramref name="directions"/> until <see cref="Restore"/>.</summary>
    public void Cut(LinkDirections directions)
    {
        if (directions.HasFlag(LinkDirections.ToNode))
        {
            _toNode.Close();
        }

        if (directions.HasFlag(LinkDirections.FromNode))
        {
            _fromNode.Close();
        }
    }

    /// <summary>Ends every cut: what was held is delivered.</summary>
    public void Restore()
    {
        _toNode.Open();
        _fromNode.Open();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
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
            Socket inbound;
            try
            {
                inbound = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return;
            }

            _ = RelayAsync(inbound);
        }
    }

    private async Task RelayAsync(Socket inbound)
    {
        var outbound = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        Track(inbound);
        Track(outbound);
        inbound.NoDelay = outbound.NoDelay = true;
        try
        {
            await outbound.ConnectAsync(_target, _stop.Token);
            (byte[] first, int length) = await ReadFirstFrameAsync(inbound);
            bool peer = IsPeerHello(first.AsSpan(0, length));
            Interlocked.Increment(ref peer ? ref _peerConnections : ref _clientConnections);
            var connection = new Relayed(inbound, outbound, this);
            await Task.WhenAll(
                connection.PumpAsync(inbound, outbound, first.AsMemory(0, length), peer ? _toNode : null),
                connection.PumpAsync(outbound, inbound, ReadOnlyMemory<byte>.Empty, peer ? _fromNode : null));
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            Abort(inbound);
            Abort(outbound);
        }
        finally
        {
            Forget(inbound);
            Forget(outbound);
        }
    }

    // Reads the header, then as much of the frame as a HELLO has; stops early at the end of the stream.
    private async Task<(byte[] Buffer, int Length)> ReadFirstFrameAsync(Socket inbound)
    {
        byte[] buffer = new byte[LargestHello];
        int length = await ReadAtLeastAsync(inbound, buffer, 0, FrameHeader.Size);
        if (length >= FrameHeader.Size && FrameHeader.TryRead(buffer, LargestHello, out FrameHeader header) == WireStatus.Ok && header.Opcode == Opcode.Hello)
        {
            length = await ReadAtLeastAsync(inbound, buffer, length, (int)header.Length);
        }

        return (buffer, length);
    }

    private async Task<int> ReadAtLeastAsync(Socket socket, byte[] buffer, int have, int want)
    {
        while (have < want)
        {
            int received = await socket.ReceiveAsync(buffer.AsMemory(have), SocketFlags.None, _stop.Token);
            if (received == 0)
            {
                break;
            }

            have += received;
        }

        return have;
    }

    private static bool IsPeerHello(ReadOnlySpan<byte> frame) =>
        FrameHeader.TryRead(frame, LargestHello, out FrameHeader header) == WireStatus.Ok
        && header.Opcode == Opcode.Hello
        && frame.Length == header.Length
        && HelloRequest.TryRead(frame[FrameHeader.Size..], out HelloRequest hello) == WireStatus.Ok
        && hello.Kind == PeerKind.Peer;

    // A reset, not a close: what the far side of a reset connection gets from its kernel.
    private static void Abort(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }

        socket.Dispose();
    }

    private void Track(Socket socket)
    {
        lock (_sockets)
        {
            _sockets.Add(socket);
        }
    }

    private void Forget(Socket socket)
    {
        lock (_sockets)
        {
            _sockets.Remove(socket);
        }

        socket.Dispose();
    }

    /// <summary>One relayed connection: two pumps, closed together when either side resets.</summary>
    private sealed class Relayed(Socket inbound, Socket outbound, PeerLinkRelay relay)
    {
        public async Task PumpAsync(Socket from, Socket to, ReadOnlyMemory<byte> first, Gate? gate)
        {
            CancellationToken stop = relay._stop.Token;
            byte[] buffer = new byte[64 * 1024];
            ReadOnlyMemory<byte> pending = first;
            bool reset = false;
            try
            {
                while (true)
                {
                    if (pending.Length > 0)
                    {
                        await PassAsync(gate, pending.Length, stop);
                        await to.SendAsync(pending, SocketFlags.None, stop);
                    }

                    int received = await from.ReceiveAsync(buffer, SocketFlags.None, stop);
                    if (received == 0)
                    {
                        break;
                    }

                    pending = buffer.AsMemory(0, received);
                }
            }
            catch (SocketException)
            {
                reset = true;
            }

            // The close travels like the bytes: not across a cut.
            await PassAsync(gate, 0, stop);
            if (reset)
            {
                Abort(inbound);
                Abort(outbound);
                return;
            }

            to.Shutdown(SocketShutdown.Send);
        }

        private async ValueTask PassAsync(Gate? gate, int bytes, CancellationToken stop)
        {
            if (gate is null || gate.IsOpen)
            {
                return;
            }

            Interlocked.Add(ref relay._held, bytes);
            try
            {
                await gate.WaitOpenAsync(stop);
            }
            finally
            {
                Interlocked.Add(ref relay._held, -bytes);
            }
        }
    }

    /// <summary>Open, or closed until opened; waiters resume when it opens.</summary>
    private sealed class Gate
    {
        private TaskCompletionSource? _closed;

        public bool IsOpen => Volatile.Read(ref _closed) is null;

        public void Close() => Interlocked.CompareExchange(ref _closed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), null);

        public void Open() => Interlocked.Exchange(ref _closed, null)?.TrySetResult();

        public Task WaitOpenAsync(CancellationToken cancellationToken) => Volatile.Read(ref _closed)?.Task.WaitAsync(cancellationToken) ?? Task.CompletedTask;
    }
}

/// <summary>Which way a cut holds bytes, seen from the node behind the relay.</summary>
[Flags]
internal enum LinkDirections
{
    /// <summary>Nothing is cut.</summary>
    None = 0,

    /// <summary>Bytes from the connecting side to the node.</summary>
    ToNode = 1,

    /// <summary>Bytes from the node to the connecting side.</summary>
    FromNode = 2,

    /// <summary>Both ways.</summary>
    Both = ToNode | FromNode,
}
