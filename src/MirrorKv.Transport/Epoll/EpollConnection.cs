using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;
using MirrorKv.Transport.Sockets;

namespace MirrorKv.Transport.Epoll;

/// <summary>
/// A TCP connection served by an <see cref="EpollLoop"/>: the loop thread receives and delivers; sends are
/// made by whichever thread flushes, straight from the send queue, and only a send that would block waits
/// for the loop to report the socket writable.
/// </summary>
/// <remarks>
/// The socket's descriptor is used only between DangerousAddRef and DangerousRelease, so a close on another
/// thread (an abort, the connection guard) cannot free the number for reuse while a call is using it.
/// </remarks>
internal sealed class EpollConnection : FramedConnection, IValueTaskSource
{
    private const int EBadF = 9;

    private readonly Socket _socket;
    private readonly SafeHandle _handle;
    private readonly EpollLoop _loop;
    private readonly Lock _interestLock = new();
    private readonly int _fd;
    private ulong _id;
    private uint _interest = EpollNative.EpollIn | EpollNative.EpollRdHup;
    private ManualResetValueTaskSourceCore<bool> _writable = new() { RunContinuationsAsynchronously = true };
    private int _awaitingWritable;

    public EpollConnection(Socket socket, EpollLoop loop, ConnectionHandler handler, uint maxFrameSize)
        : base(handler, socket.RemoteEndPoint ?? new IPEndPoint(IPAddress.None, 0), maxFrameSize)
    {
        _socket = socket;
        _socket.NoDelay = true;
        _loop = loop;
        _handle = socket.SafeHandle;
        _fd = (int)_handle.DangerousGetHandle();
        EpollNative.SetNonBlocking(_fd);
    }

    /// <summary>Announces the connection, then lets the loop deliver its frames.</summary>
    public void Start()
    {
        AnnounceOpened();
        lock (_interestLock)
        {
            // The handler may have refused the connection (closed it) already: then its descriptor is
            // closed, or about to be, and its number may belong to another socket by now.
            if (IsOpen)
            {
                _id = _loop.Add(this, _fd, _interest);
            }
        }
    }

    /// <summary>On the loop thread: the socket is readable, writable, or closed by the other side.</summary>
    public void OnEvents(uint events)
    {
        try
        {
            if ((events & EpollNative.EpollOut) != 0)
            {
                SetInterest(EpollNative.EpollOut, on: false);
                if (Interlocked.Exchange(ref _awaitingWritable, 0) == 1)
                {
                    _writable.SetResult(true);
                }
            }

            if ((events & (EpollNative.EpollIn | EpollNative.EpollRdHup)) != 0 && IsOpen)
            {
                ReceiveOnce();
            }
            else if ((events & (EpollNative.EpollHup | EpollNative.EpollErr)) != 0 && IsOpen)
            {
                // Reported whatever the interest, so also while receiving is held: the socket is dead both
                // ways (or failed), and waiting would only have the loop report it again and again.
                Abort(new SocketException((int)SocketError.ConnectionReset));
            }
        }
        catch (Exception e)
        {
            Abort(e);
        }
    }

    protected override ValueTask WriteAsync(ReadOnlyMemory<byte> batch)
    {
        int sent = SendWhatFits(batch.Span);
        return sent == batch.Length ? ValueTask.CompletedTask : WriteWhenWritableAsync(batch[sent..]);
    }

    protected override void CloseTransport()
    {
        lock (_interestLock)
        {
            if (_id != 0)
            {
                _loop.Remove(_fd, _id);
            }
        }

        FailWriter();
        SocketClose.ShutdownAndDispose(_socket);
    }

    private void ReceiveOnce()
    {
        Memory<byte> free = Receive.WritableMemory();
        int received = ReceiveSome(free.Span);
        if (received == -EpollNative.EAgain)
        {
            return;
        }

        if (received == 0)
        {
            Abort(null);
            return;
        }

        Receive.Advance(Checked(received, "recv"));
        DeliverReceived();
        if (IsReceiveHeld && IsOpen)
        {
            // Backpressure: stop reading this socket until the hold is released, then read on.
            SetInterest(EpollNative.EpollIn | EpollNative.EpollRdHup, on: false);
            _ = ResumeAfterHoldAsync();
        }
    }

    private async Task ResumeAfterHoldAsync()
    {
        try
        {
            await WhileHeldAsync().ConfigureAwait(false);
            SetInterest(EpollNative.EpollIn | EpollNative.EpollRdHup, on: true);
        }
        catch (Exception e)
        {
            Abort(e);
        }
    }

    private async ValueTask WriteWhenWritableAsync(ReadOnlyMemory<byte> batch)
    {
        while (!batch.IsEmpty)
        {
            _writable.Reset();
            Volatile.Write(ref _awaitingWritable, 1);
            SetInterest(EpollNative.EpollOut, on: true);
            if (!IsOpen)
            {
                FailWriter();
            }

            await new ValueTask(this, _writable.Version).ConfigureAwait(false);
            batch = batch[SendWhatFits(batch.Span)..];
        }
    }

    // Sends until all of it is sent or the socket's buffer is full; returns how much was sent.
    private int SendWhatFits(ReadOnlySpan<byte> batch)
    {
        int total = 0;
        while (total < batch.Length)
        {
            int sent = SendSome(batch[total..]);
            if (sent == -EpollNative.EAgain)
            {
                break;
            }

            total += Checked(sent, "send");
        }

        return total;
    }

    private void SetInterest(uint flag, bool on)
    {
        lock (_interestLock)
        {
            uint interest = on ? _interest | flag : _interest & ~flag;
            if (interest != _interest && IsOpen)
            {
                _interest = interest;
                _loop.Modify(_fd, _id, interest);
            }
        }
    }

    private void FailWriter()
    {
        if (Interlocked.Exchange(ref _awaitingWritable, 0) == 1)
        {
            _writable.SetException(new ConnectionClosedException());
        }
    }

    private unsafe int ReceiveSome(Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            return OnDescriptor(&EpollNative.Receive, p, buffer.Length);
        }
    }

    private unsafe int SendSome(ReadOnlySpan<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            return OnDescriptor(&EpollNative.Send, p, buffer.Length);
        }
    }

    // Holds a reference on the handle for the call, so that a close elsewhere cannot free the descriptor
    // number (for reuse by another socket) while the call uses it.
    private unsafe int OnDescriptor(delegate*<int, byte*, int, int> call, byte* buffer, int length)
    {
        bool added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            return call(_fd, buffer, length);
        }
        catch (ObjectDisposedException)
        {
            return -EBadF;
        }
        finally
        {
            if (added)
            {
                _handle.DangerousRelease();
            }
        }
    }

    private static int Checked(int result, string call) =>
        result >= 0 ? result
        : SocketErrorOf(-result) is var error && error != (int)SocketError.SocketError ? throw new SocketException(error)
        : throw new SocketException(error, $"{call} failed with errno {-result}");

    private static int SocketErrorOf(int errno) => errno switch
    {
        104 => (int)SocketError.ConnectionReset,
        32 => (int)SocketError.Shutdown,
        110 => (int)SocketError.TimedOut,
        _ => (int)SocketError.SocketError,
    };

    void IValueTaskSource.GetResult(short token) => _writable.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _writable.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _writable.OnCompleted(continuation, state, token, flags);
}
