using System.Net;
using System.Net.Sockets;
using System.Text;
using MirrorKv.Transport;
using MirrorKv.Transport.InProcess;

namespace MirrorKv.Adapter.Tests.Resp;

/// <summary>
/// A RESP client for tests: sends commands (or any bytes) and reads whole replies, over a loopback socket or an
/// in-process stream connection. Replies are read with a timeout, so a node that never answers fails the test.
/// </summary>
internal abstract class RespTestClient : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private byte[] _received = new byte[64 * 1024];
    private int _start;
    private int _end;
    private TaskCompletionSource _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>True once the node closed the connection.</summary>
    public bool Closed { get; private set; }

    public static async Task<RespTestClient> ConnectAsync(IPEndPoint endPoint)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(endPoint);
        var client = new SocketClient(socket);
        client.Start();
        return client;
    }

    public static RespTestClient Connect(InProcessNetwork network, IPAddress from, IPEndPoint endPoint)
    {
        var client = new InProcessClient();
        client.Attach(network.ConnectStream(from, endPoint, client));
        return client;
    }

    /// <summary>Encodes <paramref name="arguments"/> as a RESP array of bulk strings.</summary>
    public static byte[] Encode(params object[] arguments)
    {
        using var buffer = new MemoryStream();
        buffer.Write(Encoding.ASCII.GetBytes($"*{arguments.Length}\r\n"));
        foreach (object argument in arguments)
        {
            byte[] bytes = argument as byte[] ?? Encoding.UTF8.GetBytes(Convert.ToString(argument, System.Globalization.CultureInfo.InvariantCulture)!);
            buffer.Write(Encoding.ASCII.GetBytes($"${bytes.Length}\r\n"));
            buffer.Write(bytes);
            buffer.Write("\r\n"u8);
        }

        return buffer.ToArray();
    }

    /// <summary>Sends one command and reads its reply.</summary>
    public async Task<RespReply> CallAsync(params object[] arguments)
    {
        await SendAsync(Encode(arguments));
        return await ReadAsync();
    }

    public abstract Task SendAsync(byte[] bytes);

    /// <summary>The next whole reply; fails after <paramref name="seconds"/>, or when the connection closes first.</summary>
    public async Task<RespReply> ReadAsync(double seconds = 10)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            Task arrived;
            lock (_lock)
            {
                int offset = _start;
                if (RespReply.TryParse(_received.AsSpan(0, _end), ref offset) is { } reply)
                {
                    _start = offset;
                    return reply;
                }

                if (Closed)
                {
                    throw new IOException($"the node closed the connection ({_end - _start} bytes unparsed)");
                }

                arrived = _arrived.Task;
            }

            TimeSpan left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException($"no whole reply within {seconds} s");
            }

            await Task.WhenAny(arrived, Task.Delay(left));
        }
    }

    /// <summary>The next <paramref name="length"/> bytes received, as ASCII, whatever they are (for tests of the transport itself).</summary>
    public async Task<string> ReadRawAsync(int length, double seconds = 10)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            Task arrived;
            lock (_lock)
            {
                if (_end - _start >= length)
                {
                    string text = Encoding.ASCII.GetString(_received, _start, length);
                    _start += length;
                    return text;
                }

                arrived = _arrived.Task;
            }

            TimeSpan left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || Closed)
            {
                throw new TimeoutException($"{_end - _start} of {length} bytes within {seconds} s");
            }

            await Task.WhenAny(arrived, Task.Delay(left));
        }
    }

    /// <summary>Waits until the node has closed the connection; true when it did within <paramref name="seconds"/>.</summary>
    public async Task<bool> WaitClosedAsync(double seconds = 10)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!Closed && DateTime.UtcNow < deadline)
        {
            Task arrived;
            lock (_lock)
            {
                arrived = _arrived.Task;
            }

            await Task.WhenAny(arrived, Task.Delay(50));
        }

        return Closed;
    }

    public abstract ValueTask DisposeAsync();

    protected void OnReceived(ReadOnlySpan<byte> bytes)
    {
        lock (_lock)
        {
            if (_received.Length - _end < bytes.Length)
            {
                Array.Resize(ref _received, Math.Max(_received.Length * 2, _end + bytes.Length));
            }

            bytes.CopyTo(_received.AsSpan(_end));
            _end += bytes.Length;
            Signal();
        }
    }

    protected void OnClosed()
    {
        lock (_lock)
        {
            Closed = true;
            Signal();
        }
    }

    private void Signal()
    {
        TaskCompletionSource arrived = _arrived;
        _arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        arrived.TrySetResult();
    }

    private sealed class SocketClient(Socket socket) : RespTestClient
    {
        public void Start() => _ = ReceiveLoopAsync();

        public override async Task SendAsync(byte[] bytes)
        {
            try
            {
                await socket.SendAsync(bytes, SocketFlags.None);
            }
            catch (SocketException)
            {
                // The node closed the connection; the reads say so.
            }
        }

        public override ValueTask DisposeAsync()
        {
            socket.Dispose();
            return ValueTask.CompletedTask;
        }

        private async Task ReceiveLoopAsync()
        {
            byte[] buffer = new byte[64 * 1024];
            try
            {
                while (true)
                {
                    int read = await socket.ReceiveAsync(buffer, SocketFlags.None);
                    if (read == 0)
                    {
                        break;
                    }

                    OnReceived(buffer.AsSpan(0, read));
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }

            OnClosed();
        }
    }

    private sealed class InProcessClient : RespTestClient, IStreamHandler
    {
        private IConnection? _connection;

        public void Attach(IConnection connection) => _connection = connection;

        public override Task SendAsync(byte[] bytes)
        {
            try
            {
                bytes.CopyTo(_connection!.BeginPostBytes(bytes.Length));
                _connection.EndPostBytes(bytes.Length);
                _connection.Flush();
            }
            catch (ConnectionClosedException)
            {
            }

            return Task.CompletedTask;
        }

        public override async ValueTask DisposeAsync()
        {
            if (_connection is not null)
            {
                await _connection.DisposeAsync();
            }
        }

        void IStreamHandler.OnOpened(IConnection connection)
        {
        }

        void IStreamHandler.OnBatchStart(IConnection connection)
        {
        }

        int IStreamHandler.OnRequest(IConnection connection, ReadOnlySpan<byte> data, out int needed)
        {
            needed = 0;
            OnReceived(data);
            return data.Length;
        }

        void IStreamHandler.OnBatchEnd(IConnection connection)
        {
        }

        void IStreamHandler.OnClosed(IConnection connection, Exception? error) => OnClosed();
    }
}
