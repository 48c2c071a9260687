using System.Net;
using System.Net.Sockets;
using MirrorKv.Memory;
using MirrorKv.Protocol;

namespace MirrorKv.Adapter.Tests.Safety;

/// <summary>A bare TCP socket speaking frames by hand, to send what no well-behaved client would.</summary>
internal sealed class RawSocket : IAsyncDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly byte[] _buffer = new byte[8 << 20];
    private int _buffered;

    public Socket Socket => _socket;

    public static async Task<RawSocket> ConnectAsync(IPEndPoint endPoint, int receiveBuffer = 0)
    {
        var raw = new RawSocket();
        if (receiveBuffer > 0)
        {
            raw._socket.ReceiveBufferSize = receiveBuffer;
        }

        await raw._socket.ConnectAsync(endPoint);
        return raw;
    }

    public static byte[] Frame(Opcode opcode, ulong requestId, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[FrameHeader.Size + payload.Length];
        new FrameHeader((uint)frame.Length, opcode, WireStatus.Ok, requestId).Write(frame);
        payload.CopyTo(frame.AsSpan(FrameHeader.Size));
        return frame;
    }

    public static byte[] HelloFrame(PeerKind kind = PeerKind.Client, uint maxFrameSize = ProtocolLimits.DefaultMaxFrameSize, ProtocolVersion? version = null)
    {
        var request = new HelloRequest(kind, maxFrameSize) { Version = version ?? ProtocolVersion.Current };
        var hello = new byte[request.EncodedSize];
        request.Write(hello);
        return Frame(Opcode.Hello, 1, hello);
    }

    public static byte[] ReadFrame(ulong requestId, RemotePointer pointer)
    {
        var payload = new byte[ReadRequest.Size];
        ReadRequest.Write(payload, pointer);
        return Frame(Opcode.Read, requestId, payload);
    }

    public async Task SendAsync(byte[] bytes) => await _socket.SendAsync(bytes, SocketFlags.None);

    /// <summary>HELLO as a client; returns the node's region.</summary>
    public async Task<RegionInfo> GreetAsync()
    {
        await SendAsync(HelloFrame());
        (FrameHeader header, byte[] payload) = await ReceiveAsync() ?? throw new InvalidOperationException("closed during HELLO");
        Assert.Equal(WireStatus.Ok, header.Status);
        Assert.Equal(WireStatus.Ok, HelloReply.TryRead(payload, out HelloReply? reply));
        return reply!.Regions[0];
    }

    /// <summary>The next frame, or null when the node closed the connection.</summary>
    public async Task<(FrameHeader Header, byte[] Payload)?> ReceiveAsync(double seconds = 5)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        while (true)
        {
            if (_buffered >= FrameHeader.Size)
            {
                Assert.Equal(WireStatus.Ok, FrameHeader.TryRead(_buffer.AsSpan(0, _buffered), (uint)_buffer.Length, out FrameHeader header));
                if (_buffered >= header.Length)
                {
                    byte[] payload = _buffer.AsSpan(FrameHeader.Size, header.PayloadLength).ToArray();
                    Buffer.BlockCopy(_buffer, (int)header.Length, _buffer, 0, _buffered - (int)header.Length);
                    _buffered -= (int)header.Length;
                    return (header, payload);
                }
            }

            int read;
            try
            {
                read = await _socket.ReceiveAsync(_buffer.AsMemory(_buffered), SocketFlags.None, timeout.Token);
            }
            catch (SocketException)
            {
                return null;
            }

            if (read == 0)
            {
                return null;
            }

            _buffered += read;
        }
    }

    /// <summary>Reads until the node closes; returns the ERROR frame it sent first, if any.</summary>
    public async Task<(WireStatus Status, string Message)?> ReceiveUntilClosedAsync(double seconds = 10)
    {
        (WireStatus, string)? error = null;
        while (await ReceiveAsync(seconds) is { } frame)
        {
            if (frame.Header.Opcode == Opcode.Error)
            {
                error = (frame.Header.Status, ErrorText.Read(frame.Payload));
            }
        }

        return error;
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
