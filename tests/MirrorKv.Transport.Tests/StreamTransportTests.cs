using System.Net;
using System.Net.Sockets;
using System.Text;
using MirrorKv.Transport;
using MirrorKv.Transport.InProcess;
using MirrorKv.Transport.Tcp;

namespace MirrorKv.Transport.Tests;

/// <summary>
/// Stream connections (another protocol's bytes, delimited by the handler) on every backend: whole requests
/// however the bytes arrive, a buffer that grows to the size the handler announces and no further than
/// MaxFrameSize, raw replies.
/// </summary>
public class StreamTransportTests
{
    public static TheoryData<string> Backends => ["tcp", "tcp-engine", "inprocess"];

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Requests_AreDeliveredWhole_InOrder_HoweverTheBytesArrive(string backend)
    {
        var handler = new LineHandler();
        await using Client client = await Client.StartAsync(backend, handler);
        string big = new('b', 100_000);
        await client.SendAsync("one\ntw");

        // The first line is answered: "tw" has been received too, and waits as an incomplete request.
        Assert.Equal("ONE\n", await client.ReadAsync(4));
        await client.SendAsync($"o\n{big}\nthree\n");
        Assert.Equal($"TWO\n{big.ToUpperInvariant()}\nTHREE\n", await client.ReadAsync(4 + big.Length + 1 + 6));
        Assert.Equal(["one", "two", big, "three"], handler.Lines);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task AnnouncedRequestOverMaxFrameSize_ClosesTheConnection(string backend)
    {
        // The handler announces the whole request's length (here: the number before ':'); past MaxFrameSize
        // the transport closes the connection rather than grow its buffer.
        var handler = new LineHandler { MaxFrameSize = 64 * 1024 };
        await using Client client = await Client.StartAsync(backend, handler);
        await client.SendAsync("ok\n");
        Assert.Equal("OK\n", await client.ReadAsync(3));
        await client.SendAsync("70000:" + new string('x', 100));
        Assert.True(await client.WaitClosedAsync(), "the connection stayed open");
    }

    [Fact]
    public async Task UrgentFrame_OnAStreamConnection_IsRefused()
    {
        // Raw bytes have no frame boundaries to slip a frame in between.
        await using Client client = await Client.StartAsync("inprocess", new LineHandler());
        Assert.Throws<InvalidOperationException>(() => client.InProcessConnection!.PostUrgent(1, 1, new byte[8]));
    }

    /// <summary>Lines ending in '\n', answered upper-cased; "N:..." announces a request of N bytes.</summary>
    private sealed class LineHandler : IStreamHandler
    {
        public List<string> Lines { get; } = [];

        public uint MaxFrameSize { get; init; } = 1 << 20;

        public void OnOpened(IConnection connection) => connection.MaxFrameSize = MaxFrameSize;

        public void OnBatchStart(IConnection connection)
        {
        }

        public int OnRequest(IConnection connection, ReadOnlySpan<byte> data, out int needed)
        {
            needed = 0;
            int end = data.IndexOf((byte)'\n');
            if (end < 0)
            {
                int colon = data.IndexOf((byte)':');
                needed = colon > 0 && int.TryParse(Encoding.ASCII.GetString(data[..colon]), out int announced) ? announced : 0;
                return 0;
            }

            string line = Encoding.ASCII.GetString(data[..end]);
            Lines.Add(line);
            byte[] reply = Encoding.ASCII.GetBytes(line.ToUpperInvariant() + "\n");
            reply.CopyTo(connection.BeginPostBytes(reply.Length + 10));
            connection.EndPostBytes(reply.Length);
            return end + 1;
        }

        public void OnBatchEnd(IConnection connection) => connection.FlushAfterDelivery();

        public void OnClosed(IConnection connection, Exception? error)
        {
        }
    }

    private sealed class Client : IAsyncDisposable
    {
        private readonly IAsyncDisposable _listener;
        private readonly InProcessBytes? _inProcess;
        private readonly Socket? _socket;
        private readonly List<byte> _received = [];

        private Client(IAsyncDisposable listener, Socket? socket, InProcessBytes? inProcess)
        {
            _listener = listener;
            _socket = socket;
            _inProcess = inProcess;
        }

        public static async Task<Client> StartAsync(string backend, IStreamHandler handler)
        {
            if (backend == "inprocess")
            {
                var network = new InProcessNetwork();
                var at = new IPEndPoint(Harness.ServerAddress, 9000);
                IListener inProcess = network.CreateTransport(Harness.ServerAddress).ListenStream(at, handler);
                var bytes = new InProcessBytes();
                bytes.Attach(network.ConnectStream(Harness.ClientAddress, at, bytes));
                return new Client(inProcess, null, bytes);
            }

            var transport = new TcpTransport(new TcpTransportOptions { EventLoops = backend == "tcp" ? TcpTransportOptions.DefaultEventLoops : 0 });
            IListener listener = transport.ListenStream(new IPEndPoint(IPAddress.Loopback, 0), handler);
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(listener.LocalEndPoint);
            return new Client(listener, socket, null);
        }

        public IConnection? InProcessConnection => _inProcess?.Connection;

        public async Task SendAsync(string text)
        {
            byte[] bytes = Encoding.ASCII.GetBytes(text);
            if (_socket is not null)
            {
                await _socket.SendAsync(bytes, SocketFlags.None);
            }
            else
            {
                _inProcess!.Send(bytes);
            }
        }

        public async Task<string> ReadAsync(int length)
        {
            if (_inProcess is not null)
            {
                return await _inProcess.ReadAsync(length);
            }

            byte[] buffer = new byte[length];
            int read = 0;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            while (read < length)
            {
                int n = await _socket!.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, timeout.Token);
                Assert.True(n > 0, "closed before the replies came");
                read += n;
            }

            return Encoding.ASCII.GetString(buffer);
        }

        public async Task<bool> WaitClosedAsync()
        {
            if (_inProcess is not null)
            {
                await Task.WhenAny(_inProcess.Closed.Task, Task.Delay(TimeSpan.FromSeconds(10)));
                return _inProcess.Closed.Task.IsCompleted;
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            byte[] buffer = new byte[4096];
            try
            {
                while (await _socket!.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) > 0)
                {
                }

                return true;
            }
            catch (SocketException)
            {
                return true;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        public async ValueTask DisposeAsync()
        {
            _socket?.Dispose();
            _inProcess?.Connection?.Abort(null);

            await _listener.DisposeAsync();
        }
    }

    /// <summary>The client's end of an in-process stream connection: sends raw bytes, keeps every byte received.</summary>
    private sealed class InProcessBytes : IStreamHandler
    {
        private readonly Lock _lock = new();
        private readonly List<byte> _received = [];

        public IConnection? Connection { get; private set; }

        public TaskCompletionSource Closed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Attach(IConnection connection) => Connection ??= connection;

        public void Send(byte[] bytes)
        {
            bytes.CopyTo(Connection!.BeginPostBytes(bytes.Length));
            Connection.EndPostBytes(bytes.Length);
            Connection.Flush();
        }

        public async Task<string> ReadAsync(int length)
        {
            await Waits.UntilAsync(() => Count >= length, $"{length} bytes of replies", context: () => $"{Count} arrived");
            lock (_lock)
            {
                string text = Encoding.ASCII.GetString([.. _received.Take(length)]);
                _received.RemoveRange(0, length);
                return text;
            }
        }

        public void OnOpened(IConnection connection)
        {
            connection.MaxFrameSize = 1 << 20;
            Connection = connection;
        }

        public void OnBatchStart(IConnection connection)
        {
        }

        public int OnRequest(IConnection connection, ReadOnlySpan<byte> data, out int needed)
        {
            needed = 0;
            lock (_lock)
            {
                _received.AddRange(data);
            }

            return data.Length;
        }

        public void OnBatchEnd(IConnection connection)
        {
        }

        public void OnClosed(IConnection connection, Exception? error) => Closed.TrySetResult();

        private int Count
        {
            get
            {
                lock (_lock)
                {
                    return _received.Count;
                }
            }
        }
    }
}
