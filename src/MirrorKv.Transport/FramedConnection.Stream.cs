using System.Diagnostics;
using System.Net;

namespace MirrorKv.Transport;

/// <summary>
/// Stream connections (see <see cref="IStreamHandler"/>): the same buffers, limits and backpressure as
/// frames, but the handler finds where each request ends, and replies are raw bytes.
/// </summary>
public abstract partial class FramedConnection
{
    private readonly IStreamHandler? _stream;

    /// <inheritdoc />
    public void FlushAfterDelivery()
    {
        if (!DeferredFlushes.TryDefer(this))
        {
            Flush();
        }
    }

    /// <inheritdoc />
    public Span<byte> BeginPostBytes(int maxLength)
    {
        byte[]? grown = (uint)maxLength <= MaxPayload ? GrowBeforeLock(maxLength) : null;
        _sendLock.Enter();
        if (!IsOpen || _closeAfterFlush)
        {
            _sendLock.Exit();
            throw new ConnectionClosedException();
        }

        if ((uint)maxLength > MaxPayload)
        {
            _sendLock.Exit();
            throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, "A reply cannot be posted in one piece that large.");
        }

        EnsureRoom(maxLength, grown);

        _reservedLength = maxLength;
        return _pending.AsSpan(_pendingLength, maxLength);
    }

    /// <inheritdoc />
    public void EndPostBytes(int length)
    {
        if ((uint)length > (uint)_reservedLength)
        {
            // Never commit more than was reserved: the bytes past it belong to nobody.
            _reservedLength = 0;
            _sendLock.Exit();
            throw new ArgumentOutOfRangeException(nameof(length), length, "More bytes than BeginPostBytes reserved.");
        }

        Commit(length);
    }

    // DeliverReceived for a stream handler: request by request while whole ones are buffered, then make room
    // for the rest of the next one, within MaxFrameSize.
    private void DeliverStream(IStreamHandler handler)
    {
        ReadOnlySpan<byte> data = Receive.Data;
        int offset = 0;
        int needed = 0;
        try
        {
            if (!data.IsEmpty && Volatile.Read(ref _hold) is null)
            {
                handler.OnBatchStart(this);
            }

            while (offset < data.Length && IsDelivering)
            {
                int used = handler.OnRequest(this, data[offset..], out needed);
                if (used <= 0)
                {
                    break;
                }

                // A handler that claims more than it was given would make the buffer skip bytes it never had.
                offset += used <= data.Length - offset ? used : throw new InvalidOperationException($"The stream handler consumed {used} bytes of {data.Length - offset}.");
                needed = 0;
            }

            Receive.Consume(offset);
            int rest = Receive.Data.Length;
            if (rest > 0 && IsOpen && Volatile.Read(ref _hold) is null)
            {
                long want = Math.Max((long)needed, rest + 1L);
                if (want > MaxFrameSize)
                {
                    // The handler bounds its requests below MaxFrameSize; this is the transport's backstop.
                    Abort(new ProtocolViolationException($"a request of more than {MaxFrameSize} bytes"));
                    return;
                }

                Receive.EnsureFrameFits((int)want);
                if (want > RetainedBufferSize)
                {
                    _receiveBurstAt = Stopwatch.GetTimestamp();
                }
            }

            if (rest == 0)
            {
                _partialFrameSince = 0;
                if (Stopwatch.GetTimestamp() - _receiveBurstAt > BurstHoldTicks)
                {
                    Receive.TrimIfIdle(RetainedBufferSize, InitialBufferSize);
                }
            }
            else if (_partialFrameSince == 0 && Volatile.Read(ref _hold) is null)
            {
                Volatile.Write(ref _partialFrameSince, Stopwatch.GetTimestamp());
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
            Abort(new InvalidOperationException("A stream handler failed; the connection was closed.", e));
        }
    }
}
