using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using MirrorKv.Protocol;
using MirrorKv.Transport;
using MirrorKv.Transport.InProcess;
using MirrorKv.Transport.Tcp;

namespace MirrorKv.Adapter.Tests;

/// <summary>The transport contract, on both backends: order, batching, framing errors, and injected faults.</summary>
public class TransportTests
{
    // tcp: the default (our own epoll loops on x86-64 Linux); tcp-engine: the runtime's socket engine.
    public static TheoryData<string> Backends => ["tcp", "tcp-engine", "inprocess"];

    public static TheoryData<string> TcpBackends => ["tcp", "tcp-engine"];

    [Fact]
    public void Tcp_Default_UsesEventLoopsOnX64Linux()
    {
        bool expected = OperatingSystem.IsLinux() && System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.X64;
        Assert.Equal(expected, new TcpTransport().UsesEventLoops);
        Assert.False(new TcpTransport(new TcpTransportOptions { EventLoops = 0 }).UsesEventLoops);
        Assert.Throws<ArgumentOutOfRangeException>(() => new TcpTransport(new TcpTransportOptions { EventLoops = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TcpTransport(new TcpTransportOptions { SpinMicroseconds = 2_000_000 }));
    }

    [Theory]
    [MemberData(nameof(TcpBackends))]
    public async Task Tcp_HeldReceiver_SenderWaitsForRoom_ThenEverythingArrivesInOrder(string backend)
    {
        // The server holds its receives: the client's 48 MiB fill both socket buffers and its sends would
        // block, so it must wait for the socket to be writable; on release, every frame arrives, in order.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using Harness h = await Harness.StartAsync(backend, onOpened: c => c.HoldReceivesUntil(release.Task));
        h.ServerConnection!.MaxFrameSize = 2 << 20;
        byte[] payload = new byte[1 << 20];
        for (ulong id = 1; id <= 48; id++)
        {
            BitConverter.TryWriteBytes(payload, id);
            h.Client.Post(Opcode.Read, WireStatus.Ok, id, payload);
        }

        h.Client.Flush();
        await Task.Delay(300);
        Assert.True(h.Client.WriteBlockedFor > TimeSpan.Zero, "the sender never had to wait for room");
        Assert.Empty(h.Server.Frames);

        release.SetResult();
        await h.Server.WaitForFramesAsync(48);
        Assert.Equal(Enumerable.Range(1, 48).Select(i => (ulong)i), h.Server.Frames.Select(f => f.Header.RequestId));
        Assert.All(h.Server.Frames, f => Assert.Equal(f.Header.RequestId, BitConverter.ToUInt64(f.Payload)));
    }

    [Theory]
    [MemberData(nameof(TcpBackends))]
    public async Task Tcp_ConnectToClosedPort_FailsWithConnectionRefused(string backend)
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var closed = (IPEndPoint)probe.LocalEndPoint!;
        probe.Dispose();

        ITransport transport = Harness.Tcp(backend);
        var e = await Assert.ThrowsAsync<SocketException>(async () => await transport.ConnectAsync(closed, new RecordingHandler(), CancellationToken.None));
        Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
    }

    [Theory]
    [MemberData(nameof(TcpBackends))]
    public async Task Tcp_PeerCloses_ConnectionReportsClosed(string backend)
    {
        await using Harness h = await Harness.StartAsync(backend);
        h.ServerConnection!.Abort(null);
        await h.ClientHandler.Closed.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(h.Client.IsOpen);
        Assert.Throws<ConnectionClosedException>(() => h.Client.Post(Opcode.Read, WireStatus.Ok, 1, [1]));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Post_ManyFramesThenOneFlush_ArriveInOrderInFewBatches(string backend)
    {
        await using Harness h = await Harness.StartAsync(backend);
        for (ulong id = 1; id <= 500; id++)
        {
            h.Client.Post(Opcode.Read, WireStatus.Ok, id, BitConverter.GetBytes(id));
        }

        h.Client.Flush();
        await h.Server.WaitForFramesAsync(500);

        Assert.Equal(Enumerable.Range(1, 500).Select(i => (ulong)i), h.Server.Frames.Select(f => f.Header.RequestId));
        Assert.All(h.Server.Frames, f => Assert.Equal(f.Header.RequestId, BitConverter.ToUInt64(f.Payload)));
        Assert.True(h.Server.Batches < 50, $"500 pipelined frames took {h.Server.Batches} receive batches");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Frame_LargerThanMaximum_ClosesWithFrameTooLargeError(string backend)
    {
        await using Harness h = await Harness.StartAsync(backend);
        h.ServerConnection!.MaxFrameSize = 1024;
        h.Client.Post(Opcode.Read, WireStatus.Ok, 1, new byte[2000]);
        h.Client.Flush();

        await h.ClientHandler.WaitForFramesAsync(1);
        FrameRecord error = h.ClientHandler.Frames.Single();
        Assert.Equal(Opcode.Error, error.Header.Opcode);
        Assert.Equal(WireStatus.FrameTooLarge, error.Header.Status);
        Assert.Contains("exceeds the maximum", ErrorText.Read(error.Payload), StringComparison.Ordinal);
        await h.ClientHandler.Closed.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Empty(h.Server.Frames);
    }

    [Theory]
    [MemberData(nameof(TcpBackends))]
    public async Task Tcp_GarbageHeader_ClosesWithMalformedFrame(string backend)
    {
        await using Harness h = await Harness.StartAsync(backend);
        using var raw = new TcpClient();
        await raw.ConnectAsync((IPEndPoint)h.Listener.LocalEndPoint);
        await raw.GetStream().WriteAsync(new byte[] { 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 });
        var reply = new byte[256];
        int read = await raw.GetStream().ReadAsync(reply);
        Assert.True(FrameHeader.TryRead(reply.AsSpan(0, read), 4096, out FrameHeader header) == WireStatus.Ok);
        Assert.Equal((Opcode.Error, WireStatus.MalformedFrame), (header.Opcode, header.Status));
        Assert.Equal(0, await raw.GetStream().ReadAsync(reply));
    }

    [Fact]
    public async Task InProcess_Partition_DropsSilentlyUntilHealed()
    {
        await using Harness h = await Harness.StartAsync("inprocess");
        h.Network!.Partition(Harness.ClientAddress, Harness.ServerAddress);
        h.Client.Post(Opcode.Read, WireStatus.Ok, 1, []);
        h.Client.Flush();
        await Task.Delay(100);
        Assert.Empty(h.Server.Frames);
        Assert.True(h.Client.IsOpen, "a partition is silent: the connection does not see an error");

        h.Network.Heal();
        h.Client.Post(Opcode.Read, WireStatus.Ok, 2, []);
        h.Client.Flush();
        await h.Server.WaitForFramesAsync(1);
        Assert.Equal(2UL, h.Server.Frames.Single().Header.RequestId);
    }

    [Fact]
    public async Task InProcess_Delay_DelaysDelivery()
    {
        await using Harness h = await Harness.StartAsync("inprocess");
        h.Network!.Delay = TimeSpan.FromMilliseconds(150);
        var clock = Stopwatch.StartNew();
        h.Client.Post(Opcode.Read, WireStatus.Ok, 1, []);
        h.Client.Flush();
        await h.Server.WaitForFramesAsync(1);
        Assert.True(clock.ElapsedMilliseconds >= 140, $"delivered after {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task InProcess_Crash_ResetsConnectionsAndRefusesNewOnes()
    {
        await using Harness h = await Harness.StartAsync("inprocess");
        h.Network!.Crash(Harness.ServerAddress);
        await h.ClientHandler.Closed.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(h.Client.IsOpen);
        Assert.Throws<ConnectionClosedException>(() => h.Client.Post(Opcode.Read, WireStatus.Ok, 1, []));
        await Assert.ThrowsAsync<SocketException>(() => h.Transport.ConnectAsync(h.Listener.LocalEndPoint, new RecordingHandler(), CancellationToken.None).AsTask());
    }

    [Fact]
    public async Task InProcess_DropBatches_DropsOnlyMatching()
    {
        await using Harness h = await Harness.StartAsync("inprocess");
        h.Network!.DropBatches((from, _) => from.Address.Equals(Harness.ClientAddress));
        h.Client.Post(Opcode.Read, WireStatus.Ok, 1, []);
        h.Client.Flush();
        await Task.Delay(100);
        Assert.Empty(h.Server.Frames);
        h.Network.DropBatches(null);
        h.Client.Post(Opcode.Read, WireStatus.Ok, 2, []);
        h.Client.Flush();
        await h.Server.WaitForFramesAsync(1);
    }

    private sealed record FrameRecord(FrameHeader Header, byte[] Payload);

    private sealed class RecordingHandler : IMessageHandler
    {
        private readonly ConcurrentQueue<FrameRecord> _frames = new();

        public IReadOnlyCollection<FrameRecord> Frames => _frames;

        public int Batches { get; private set; }

        public TaskCompletionSource Closed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<IConnection> Opened { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Action<IConnection>? OnOpenedHook { get; set; }

        public void OnOpened(IConnection connection)
        {
            OnOpenedHook?.Invoke(connection);
            Opened.TrySetResult(connection);
        }

        public void OnFrame(IConnection connection, in FrameHeader header, ReadOnlySpan<byte> payload) => _frames.Enqueue(new FrameRecord(header, payload.ToArray()));

        public void OnBatchEnd(IConnection connection) => Batches++;

        public void OnClosed(IConnection connection, Exception? error) => Closed.TrySetResult();

        public async Task WaitForFramesAsync(int count)
        {
            for (int i = 0; i < 500 && _frames.Count < count; i++)
            {
                await Task.Delay(10);
            }

            Assert.True(_frames.Count >= count, $"{_frames.Count} of {count} frames arrived");
        }
    }

    private sealed class Harness : IAsyncDisposable
    {
        public static readonly IPAddress ServerAddress = IPAddress.Parse("127.0.0.31");
        public static readonly IPAddress ClientAddress = IPAddress.Parse("127.0.0.32");

        public RecordingHandler Server { get; } = new();

        public RecordingHandler ClientHandler { get; } = new();

        public InProcessNetwork? Network { get; private set; }

        public ITransport Transport { get; private set; } = null!;

        public IListener Listener { get; private set; } = null!;

        public IConnection Client { get; private set; } = null!;

        public IConnection? ServerConnection { get; private set; }

        public static ITransport Tcp(string backend) =>
            backend == "tcp" ? new TcpTransport() : new TcpTransport(new TcpTransportOptions { EventLoops = 0 });

        public static async Task<Harness> StartAsync(string backend, Action<IConnection>? onOpened = null)
        {
            var h = new Harness();
            h.Server.OnOpenedHook = onOpened;
            ITransport serverTransport;
            EndPoint endPoint;
            if (backend is "tcp" or "tcp-engine")
            {
                serverTransport = h.Transport = Tcp(backend);
                endPoint = new IPEndPoint(IPAddress.Loopback, 0);
            }
            else
            {
                h.Network = new InProcessNetwork();
                serverTransport = h.Network.CreateTransport(ServerAddress);
                h.Transport = h.Network.CreateTransport(ClientAddress);
                endPoint = new IPEndPoint(ServerAddress, 9000);
            }

            h.Listener = serverTransport.Listen(endPoint, h.Server);
            h.Client = await h.Transport.ConnectAsync(h.Listener.LocalEndPoint, h.ClientHandler, CancellationToken.None);
            h.ServerConnection = await h.Server.Opened.Task.WaitAsync(TimeSpan.FromSeconds(5));
            return h;
        }

        public async ValueTask DisposeAsync()
        {
            Client.Abort(null);
            ServerConnection?.Abort(null);
            await Listener.DisposeAsync();
        }
    }
}
