using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using MirrorKv.Protocol;
using MirrorKv.Transport;
using MirrorKv.Transport.InProcess;
using MirrorKv.Transport.Tcp;

namespace MirrorKv.Transport.Tests;

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

        // The sender waiting for room proves the receiver held long enough: both socket buffers are full.
        await Waits.UntilAsync(() => h.Client.WriteBlockedFor > TimeSpan.Zero, "the sender to wait for room in the held receiver's socket");
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
        IPEndPoint closed = Ports.FreeEndPoint();
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

        // Handed to the network, which decides there and then: frame 1 is gone, not in flight past the heal.
        await Waits.UntilAsync(() => h.Client.QueuedBytes == 0, "frame 1 to leave the send queue");
        Assert.True(h.Client.IsOpen, "a partition is silent: the connection does not see an error");

        h.Network.Heal();
        h.Client.Post(Opcode.Read, WireStatus.Ok, 2, []);
        h.Client.Flush();
        // Frames arrive in order, so frame 1, had it been delivered, would be here before frame 2.
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
        int dropped = 0;
        h.Network!.DropBatches((from, _) => from.Address.Equals(Harness.ClientAddress) && Interlocked.Increment(ref dropped) > 0);
        h.ServerConnection!.Post(Opcode.Read, WireStatus.Ok, 10, []);
        h.ServerConnection!.Flush();
        h.Client.Post(Opcode.Read, WireStatus.Ok, 1, []);
        h.Client.Flush();
        await Waits.UntilAsync(() => Volatile.Read(ref dropped) == 1, "the client's batch to be dropped");

        // The other direction does not match: the server's frame arrives.
        await h.ClientHandler.WaitForFramesAsync(1);
        Assert.Equal(10UL, h.ClientHandler.Frames.Single().Header.RequestId);

        h.Network.DropBatches(null);
        h.Client.Post(Opcode.Read, WireStatus.Ok, 2, []);
        h.Client.Flush();
        await h.Server.WaitForFramesAsync(1);
        Assert.Equal(2UL, h.Server.Frames.Single().Header.RequestId);
    }
}
