using System.Net;
using System.Net.Sockets;
using MirrorKv.Protocol;

namespace MirrorKv.Transport.Tests;

/// <summary>
/// Frames on a real socket, whose bytes the kernel hands over in pieces of any size: every frame is delivered
/// whole, once, in order, however it was cut; an incomplete frame is held (and shows in PartialFrameFor), never
/// delivered in part, also when the peer goes away in the middle of it.
/// </summary>
public class FramingTests
{
    [Theory]
    [MemberData(nameof(TransportTests.TcpBackends), MemberType = typeof(TransportTests))]
    public async Task Frames_CutAnywhereAcrossReads_AreDeliveredWhole_OnceEach_InOrder(string backend)
    {
        await using RawPeer peer = await RawPeer.StartAsync(backend);
        byte[] a = Frame(1, 10), b = Frame(2, 200_000), c = Frame(3, 0);

        // A whole frame and 7 bytes of the next header in one send: A is delivered, B is held as incomplete.
        await peer.SendAsync((byte[])[.. a, .. b[..7]]);
        await peer.Handler.WaitForFramesAsync(1);
        await Waits.UntilAsync(() => peer.Server.PartialFrameFor > TimeSpan.Zero, "the 7 header bytes to be held as an incomplete frame");
        Assert.Single(peer.Handler.Frames);

        // The rest of B in pieces growing from one byte (across the header, then the payload), then C.
        int offset = 7;
        for (int size = 1; offset < b.Length; size = size * 3 + 1)
        {
            int n = Math.Min(size, b.Length - offset);
            await peer.SendAsync(b.AsMemory(offset, n));
            offset += n;
        }

        await peer.SendAsync(c);
        await peer.Handler.WaitForFramesAsync(3);
        Assert.Equal([1UL, 2UL, 3UL], peer.Handler.Frames.Select(f => f.Header.RequestId));
        Assert.Equal([Payload(1, 10), Payload(2, 200_000), Payload(3, 0)], peer.Handler.Frames.Select(f => f.Payload));
        Assert.Equal(TimeSpan.Zero, peer.Server.PartialFrameFor);
    }

    [Theory]
    [MemberData(nameof(TransportTests.TcpBackends), MemberType = typeof(TransportTests))]
    public async Task PeerGoneInTheMiddleOfAFrame_NothingOfItIsDelivered_AndTheConnectionReportsClosed(string backend)
    {
        await using RawPeer peer = await RawPeer.StartAsync(backend);
        byte[] a = Frame(1, 10), b = Frame(2, 5000);
        await peer.SendAsync((byte[])[.. a, .. b[..2500]]);
        await Waits.UntilAsync(() => peer.Handler.Frames.Count == 1 && peer.Server.PartialFrameFor > TimeSpan.Zero, "frame 1 delivered and half of frame 2 held");

        peer.Socket.Shutdown(SocketShutdown.Both);
        peer.Socket.Close();
        await peer.Handler.WaitClosedAsync();
        Assert.Equal(1UL, peer.Handler.Frames.Single().Header.RequestId);
        Assert.False(peer.Server.IsOpen);
    }

    private static byte[] Payload(ulong id, int length) => [.. Enumerable.Range(0, length).Select(i => (byte)(i * 7 + (int)id))];

    private static byte[] Frame(ulong id, int payloadLength)
    {
        var frame = new byte[FrameHeader.Size + payloadLength];
        new FrameHeader((uint)frame.Length, Opcode.Read, WireStatus.Ok, id).Write(frame);
        Payload(id, payloadLength).CopyTo(frame.AsSpan(FrameHeader.Size));
        return frame;
    }

    /// <summary>A listener with a recording handler, and a plain socket connected to it that sends whatever bytes a test gives it.</summary>
    private sealed class RawPeer : IAsyncDisposable
    {
        private readonly IListener _listener;

        private RawPeer(IListener listener, RecordingHandler handler, Socket socket, IConnection server)
        {
            _listener = listener;
            Handler = handler;
            Socket = socket;
            Server = server;
        }

        public RecordingHandler Handler { get; }

        public Socket Socket { get; }

        /// <summary>The listener's side of the connection.</summary>
        public IConnection Server { get; }

        public static async Task<RawPeer> StartAsync(string backend)
        {
            var handler = new RecordingHandler();
            IListener listener = Harness.Tcp(backend).Listen(new IPEndPoint(IPAddress.Loopback, 0), handler);
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(listener.LocalEndPoint);
            IConnection server = await Waits.ForAsync(handler.Opened.Task, "the listener to accept the raw socket");
            server.MaxFrameSize = 1 << 20;
            return new RawPeer(listener, handler, socket, server);
        }

        public async Task SendAsync(ReadOnlyMemory<byte> bytes) => await Socket.SendAsync(bytes, SocketFlags.None);

        public async ValueTask DisposeAsync()
        {
            Socket.Dispose();
            Server.Abort(null);
            await _listener.DisposeAsync();
        }
    }
}
