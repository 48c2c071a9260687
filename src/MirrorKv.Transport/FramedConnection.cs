using System.Net;

namespace MirrorKv.Transport;

/// <summary>
/// What every backend shares: the send queue (two buffers swapped per write, so that posting goes on while
/// a write is on the wire), frame parsing with batched delivery, and backpressure. A backend supplies the
/// write, feeds received bytes to <see cref="DeliverReceived"/> and awaits <see cref="WhileHeldAsync"/>
/// before reading more.
/// </summary>
/// <remarks>
/// Memory per connection is bounded: the receive buffer holds at most one maximum frame plus what one read
/// brought, and the send queue stops growing at <see cref="IConnection.SendQueueLimit"/> plus one frame,
/// because past the limit the connection stops delivering requests (so stops producing replies) until the
/// other side has read enough. Buffers that grew for a burst are given back when the burst is over.
/// </remarks>
public abstract partial class FramedConnection : IConnection
{
    private const int InitialBufferSize = 16 * 1024;

    // Above this a buffer is a burst's, not the steady state's: returned once idle.
    private const int RetainedBufferSize = 256 * 1024;

    // How long a burst's buffer is kept after the burst's last use of it. A peer copying slabs sends 1 MiB
    // frames back to back: giving the buffer back after each one and growing a new one for the next cost
    // more than the copy itself (fresh large arrays are zeroed, and their pages faulted in). One second of
    // quiet tells a finished burst from the gap between two frames of one.
    private static readonly long BurstHoldTicks = System.Diagnostics.Stopwatch.Frequency;

    private readonly Lock _sendLock = new();
    private readonly ConnectionHandler _handlers;
    private readonly IFrameHandler? _handler;
    private byte[] _pending = new byte[InitialBufferSize];
    private byte[] _inFlight = new byte[InitialBufferSize];
    private int _pendingLength;
    private int _inFlightLength;
    private int _reservedLength;
    // 1 while a send loop runs: set by whoever starts one (a compare-exchange, so that an urgent frame can start it
    // without the send lock), cleared by the loop when it finds nothing left.
    private int _sending;
    private bool _closeAfterFlush;

    // Set by the handler during OnFrame (DeliverAgain), on the delivering thread.
    private bool _deliverAgain;
    private int _closed;
    private TaskCompletionSource? _drained;
    private Task? _hold;
    private long _writeStartedAt;
    private long _partialFrameSince;
    private long _sendBurstAt;
    private long _receiveBurstAt;

    /// <summary>Creates the connection; the backend starts receiving after construction.</summary>
    protected FramedConnection(IFrameHandler handler, EndPoint remoteEndPoint, uint maxFrameSize)
        : this(new ConnectionHandler(handler), remoteEndPoint, maxFrameSize)
    {
    }

    /// <summary>Creates a connection delivering to a frame or a stream handler; the backend starts receiving after construction.</summary>
    private protected FramedConnection(ConnectionHandler handler, EndPoint remoteEndPoint, uint maxFrameSize)
    {
        _handlers = handler;
        _handler = handler.Frames;
        _stream = handler.Stream;
        RemoteEndPoint = remoteEndPoint;
        MaxFrameSize = maxFrameSize;
        Receive = new ReceiveBuffer(InitialBufferSize);
    }

    /// <inheritdoc />
    public EndPoint RemoteEndPoint { get; }

    /// <inheritdoc />
    public bool IsOpen => Volatile.Read(ref _closed) == 0;

    /// <inheritdoc />
    public uint MaxFrameSize { get; set; }

    /// <inheritdoc />
    public object? State { get; set; }

    /// <inheritdoc />
    public int SendQueueLimit { get; set; } = int.MaxValue;

    /// <inheritdoc />
    public bool CongestionHoldsReceives { get; set; } = true;

    /// <inheritdoc />
    public int QueuedBytes => Volatile.Read(ref _pendingLength) + Volatile.Read(ref _inFlightLength);

    /// <inheritdoc />
    public bool IsCongested => Volatile.Read(ref _drained) is not null;

    /// <inheritdoc />
    public TimeSpan WriteBlockedFor => Since(Volatile.Read(ref _writeStartedAt));

    /// <inheritdoc />
    public TimeSpan PartialFrameFor => Since(Volatile.Read(ref _partialFrameSince));

    /// <summary>True while receiving is held: a backend that reads on its own schedule stops reading until <see cref="WhileHeldAsync"/> completes.</summary>
    protected bool IsReceiveHeld => Volatile.Read(ref _hold) is not null;

    /// <summary>Where the backend puts received bytes.</summary>
    internal ReceiveBuffer Receive { get; }

    /// <summary>Tells the handler that the connection opened; the backend calls it before it receives.</summary>
    protected void AnnounceOpened() => _handlers.OnOpened(this);

    /// <inheritdoc />
    public Span<byte> BeginPost(uint immediate, ulong requestId, int payloadLength)
    {
        byte[]? grown = (uint)payloadLength <= MaxPayload ? GrowBeforeLock(FrameLayout.HeaderSize + payloadLength) : null;
        _sendLock.Enter();
        if (!IsOpen || _closeAfterFlush)
        {
            _sendLock.Exit();
            throw new ConnectionClosedException();
        }

        int frameLength = FrameLayout.HeaderSize + payloadLength;
        if ((uint)payloadLength > MaxPayload)
        {
            _sendLock.Exit();
            throw new ArgumentOutOfRangeException(nameof(payloadLength), payloadLength, "A frame cannot be that large.");
        }

        EnsureRoom(frameLength, grown);
        FrameLayout.WriteHeader(_pending.AsSpan(_pendingLength), (uint)frameLength, immediate, requestId);
        _reservedLength = frameLength;
        return _pending.AsSpan(_pendingLength + FrameLayout.HeaderSize, payloadLength);
    }

    /// <inheritdoc />
    public void EndPost() => Commit(_reservedLength);

    // A queue that must grow for a large post gets its new buffer before the send lock is taken, with every page of it
    // touched: on a VM the first touch of fresh memory costs about 2.5 ms per MiB, and growing a peer link's queue to
    // 64 MiB under the lock (a 16 MB record behind 48 MiB of others) held the heartbeat timer and the send loop 100 ms
    // behind one writer. Returns null when there is room, or the post is small (then growing under the lock is cheap).
    private byte[]? GrowBeforeLock(int needed)
    {
        if (needed < GrowBeforeLockFrom)
        {
            return null;
        }

        // Read without the lock: a guess, checked again under it (EnsureRoom).
        byte[] pending = Volatile.Read(ref _pending);
        int length = Volatile.Read(ref _pendingLength);
        if (pending.Length - length >= needed)
        {
            return null;
        }

        byte[] grown = GC.AllocateUninitializedArray<byte>((int)Math.Min(Array.MaxLength, Math.Max(2L * pending.Length, (long)length + needed + needed)));
        for (int i = 0; i < grown.Length; i += PageSize)
        {
            grown[i] = 0;
        }

        return grown;
    }

    // Under the send lock: room for a post of this many bytes, in the buffer grown before the lock when it is still large enough.
    private void EnsureRoom(int needed, byte[]? grown)
    {
        if (_pending.Length - _pendingLength >= needed)
        {
            return;
        }

        if (grown is not null && grown.Length - _pendingLength >= needed)
        {
            _pending.AsSpan(0, _pendingLength).CopyTo(grown);
            _pending = grown;
            return;
        }

        Array.Resize(ref _pending, Math.Max(_pending.Length * 2, _pendingLength + needed));
    }

    private const int GrowBeforeLockFrom = 64 * 1024;

    private static readonly int PageSize = Environment.SystemPageSize;

    // Under the send lock, which it releases: the reserved bytes join the queue, and a queue over its limit
    // stops the delivery of requests until it drains.
    private void Commit(int length)
    {
        _pendingLength += length;
        _reservedLength = 0;
        if (_pendingLength + _inFlightLength > SendQueueLimit && _drained is null)
        {
            // The other side reads slower than it asks: stop taking its requests until it catches up.
            _drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (CongestionHoldsReceives)
            {
                Interlocked.CompareExchange(ref _hold, _drained.Task, null);
            }
        }

        _sendLock.Exit();
    }

    /// <inheritdoc />
    public void DeliverAgain()
    {
        if (_stream is not null)
        {
            throw new InvalidOperationException("A stream handler keeps a request by returning 0 from OnRequest.");
        }

        _deliverAgain = true;
    }

    /// <inheritdoc />
    public Task WhenDrained() => Volatile.Read(ref _drained)?.Task ?? Task.CompletedTask;

    /// <inheritdoc />
    public void HoldReceivesUntil(Task released) => Interlocked.CompareExchange(ref _hold, released, null);

    /// <inheritdoc />
    public void Post(uint immediate, ulong requestId, ReadOnlySpan<byte> payload)
    {
        payload.CopyTo(BeginPost(immediate, requestId, payload.Length));
        EndPost();
    }

    /// <inheritdoc />
    public void Flush()
    {
        bool closeNow, start;
        lock (_sendLock)
        {
            if (!IsOpen)
            {
                return;
            }

            bool queued = _pendingLength > 0 || Volatile.Read(ref _urgentLength) > 0;
            closeNow = !queued && _closeAfterFlush && Volatile.Read(ref _sending) == 0;
            start = queued && Interlocked.CompareExchange(ref _sending, 1, 0) == 0;
        }

        if (closeNow)
        {
            Abort(null);
        }
        else if (start)
        {
            _ = SendLoopAsync();
        }
    }

    /// <inheritdoc />
    public void CloseAfterFlush()
    {
        lock (_sendLock)
        {
            _closeAfterFlush = true;
        }

        Flush();
    }

    /// <inheritdoc />
    public void Abort(Exception? reason)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        lock (_sendLock)
        {
            _drained?.TrySetResult();
            _drained = null;
        }

        CloseTransport();
        try
        {
            _handlers.OnClosed(this, reason);
        }
        catch (Exception)
        {
            // A handler failing while being told of a close has nothing left to break.
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Abort(null);
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    /// <summary>Writes a batch to the wire; completes when all of it was handed to the network.</summary>
    protected abstract ValueTask WriteAsync(ReadOnlyMemory<byte> batch);

    /// <summary>Releases the backend's resources (socket, queues); called once.</summary>
    protected abstract void CloseTransport();

    /// <summary>
    /// Completes at once unless receiving is held (this connection's send queue is over its limit, or a
    /// handler asked for a hold); then waits for the release, delivers the frames that were held back, and
    /// repeats. The backend awaits this before each read.
    /// </summary>
    protected ValueTask WhileHeldAsync() => Volatile.Read(ref _hold) is null ? ValueTask.CompletedTask : WaitForReleaseAsync();

    /// <summary>
    /// Delivers every whole frame in the receive buffer, then ends the batch. Called by the backend's receive
    /// loop after each read. A malformed header closes the connection after an ERROR frame saying why.
    /// Stops early when receiving becomes held; the rest stays buffered for <see cref="WhileHeldAsync"/>.
    /// </summary>
    protected void DeliverReceived()
    {
        if (_stream is not null)
        {
            DeliverStream(_stream);
            return;
        }

        IFrameHandler handler = _handler!;
        ReadOnlySpan<byte> data = Receive.Data;
        int offset = 0;
        try
        {
            if (data.Length >= 2 * FrameLayout.HeaderSize && Volatile.Read(ref _hold) is null)
            {
                handler.OnBatchStart(this, data);
            }

            while (data.Length - offset >= FrameLayout.HeaderSize && IsDelivering)
            {
                uint length = FrameLayout.ReadLength(data[offset..]);
                if (FrameLayout.Check(length, MaxFrameSize) is { } error)
                {
                    // Nothing after a bad length can be delimited: the handler may say why, then the connection ends.
                    handler.OnFramingError(this, error, data.Slice(offset, FrameLayout.HeaderSize));
                    CloseAfterFlush();
                    return;
                }

                if (data.Length - offset < length)
                {
                    break;
                }

                ReadOnlySpan<byte> frame = data.Slice(offset, (int)length);
                handler.OnFrame(this, FrameLayout.ReadImmediate(frame), FrameLayout.ReadRequestId(frame), frame[FrameLayout.HeaderSize..]);
                if (_deliverAgain)
                {
                    // Left in the buffer, for the delivery that follows the release of the hold.
                    _deliverAgain = false;
                    break;
                }

                offset += (int)length;
            }

            Receive.Consume(offset);
            if (Receive.Data.Length >= FrameLayout.HeaderSize && FrameLayout.ReadLength(Receive.Data) is var next && FrameLayout.Check(next, MaxFrameSize) is null)
            {
                Receive.EnsureFrameFits((int)next);
                if (next > RetainedBufferSize)
                {
                    _receiveBurstAt = System.Diagnostics.Stopwatch.GetTimestamp();
                }
            }

            if (Receive.Data.IsEmpty)
            {
                _partialFrameSince = 0;
                if (System.Diagnostics.Stopwatch.GetTimestamp() - _receiveBurstAt > BurstHoldTicks)
                {
                    Receive.TrimIfIdle(RetainedBufferSize, InitialBufferSize);
                }
            }
            else if (_partialFrameSince == 0 && Volatile.Read(ref _hold) is null)
            {
                // A frame that has begun and not ended: the clock for a sender too slow to finish it.
                Volatile.Write(ref _partialFrameSince, System.Diagnostics.Stopwatch.GetTimestamp());
            }

            if (IsOpen)
            {
                handler.OnBatchEnd(this);
            }
        }
        catch (ConnectionClosedException)
        {
            // Closed under the handler's feet (by the peer or a failure): nothing more to deliver.
        }
        catch (Exception e)
        {
            Abort(new InvalidOperationException("A frame handler failed; the connection was closed.", e));
        }
    }

    private static TimeSpan Since(long timestamp) => timestamp == 0 ? TimeSpan.Zero : System.Diagnostics.Stopwatch.GetElapsedTime(timestamp);

    private const uint MaxPayload = FrameLayout.MaxFrameSize - FrameLayout.HeaderSize;

    // Frames are delivered while the connection is open, not closing (CloseAfterFlush: a handler gave up on it, or
    // the framing broke) and its receives are not held.
    private bool IsDelivering => IsOpen && !Volatile.Read(ref _closeAfterFlush) && Volatile.Read(ref _hold) is null;

    private async ValueTask WaitForReleaseAsync()
    {
        while (Volatile.Read(ref _hold) is { } hold && IsOpen)
        {
            await hold.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _ = Interlocked.CompareExchange(ref _hold, null, hold);
            DeliverReceived();
        }
    }

    private async Task SendLoopAsync()
    {
        try
        {
            while (true)
            {
                await WriteUrgentAsync().ConfigureAwait(false);
                int length;
                bool done, closeNow;
                lock (_sendLock)
                {
                    _inFlightLength = 0;
                    length = _pendingLength;
                    done = length == 0 && Volatile.Read(ref _urgentLength) == 0 || !IsOpen;
                    closeNow = done && _closeAfterFlush;
                    if (_drained is not null && length <= SendQueueLimit / 2)
                    {
                        _drained.TrySetResult();
                        _drained = null;
                    }

                    if (done)
                    {
                        _writeStartedAt = 0;

                        // A full fence: the look at the urgent frames below must not be ordered before this store, or a
                        // PostUrgent could find the loop running while the loop finds no urgent frame.
                        Interlocked.Exchange(ref _sending, 0);
                        if (System.Diagnostics.Stopwatch.GetTimestamp() - _sendBurstAt > BurstHoldTicks)
                        {
                            if (_pending.Length > RetainedBufferSize)
                            {
                                _pending = new byte[InitialBufferSize];
                            }

                            if (_inFlight.Length > RetainedBufferSize)
                            {
                                _inFlight = new byte[InitialBufferSize];
                            }
                        }
                    }
                    else if (length > 0)
                    {
                        if (length > RetainedBufferSize)
                        {
                            _sendBurstAt = System.Diagnostics.Stopwatch.GetTimestamp();
                        }

                        (_pending, _inFlight) = (_inFlight, _pending);
                        _pendingLength = 0;
                        _inFlightLength = length;
                        _writeStartedAt = System.Diagnostics.Stopwatch.GetTimestamp();
                    }
                }

                if (done)
                {
                    if (closeNow)
                    {
                        Abort(null);
                        return;
                    }

                    // An urgent frame posted after the look above saw this loop still running and left it to this loop.
                    if (IsOpen && Volatile.Read(ref _urgentLength) > 0 && Interlocked.CompareExchange(ref _sending, 1, 0) == 0)
                    {
                        continue;
                    }

                    return;
                }

                if (length > 0)
                {
                    await WriteQueueAsync(length).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e)
        {
            lock (_sendLock)
            {
                _writeStartedAt = 0;
            }

            Volatile.Write(ref _sending, 0);
            Abort(e);
        }
    }
}
