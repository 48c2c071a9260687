namespace MirrorKv.Transport;

/// <summary>
/// Urgent frames: small control frames (a primary's lease heartbeat) that overtake the frames queued ahead of
/// them. A queue's write goes to the network in slices that end where a frame ends, and the urgent frames posted
/// meanwhile leave between two slices, so that one waits for a slice (or the one frame larger than a slice), not
/// for a backlog of tens of megabytes that a busy receiver takes longer to read than a lease lasts. They have a lock
/// of their own: posting one never waits for a writer that holds the send lock while it copies a large value.
/// </summary>
public abstract partial class FramedConnection
{
    // Large enough that a backlog of small frames costs few extra system calls, small enough that an urgent frame
    // behind it waits microseconds on a link that moves.
    private const int SliceBytes = 256 * 1024;

    // Urgent frames are heartbeats: a bound keeps a caller's bug from growing a buffer without end.
    private const int MaxUrgentPayload = 4 * 1024;

    private readonly Lock _urgentLock = new();
    private byte[] _urgent = new byte[256];
    private byte[] _urgentInFlight = new byte[256];
    private int _urgentLength;

    /// <inheritdoc />
    public void PostUrgent(uint immediate, ulong requestId, ReadOnlySpan<byte> payload)
    {
        if (_stream is not null)
        {
            throw new InvalidOperationException("A stream connection has no frames for an urgent one to overtake.");
        }

        if (payload.Length > MaxUrgentPayload)
        {
            throw new ArgumentOutOfRangeException(nameof(payload), payload.Length, $"An urgent frame carries at most {MaxUrgentPayload} bytes.");
        }

        int frameLength = FrameLayout.HeaderSize + payload.Length;
        lock (_urgentLock)
        {
            if (!IsOpen || Volatile.Read(ref _closeAfterFlush))
            {
                throw new ConnectionClosedException();
            }

            if (_urgent.Length - _urgentLength < frameLength)
            {
                Array.Resize(ref _urgent, Math.Max(_urgent.Length * 2, _urgentLength + frameLength));
            }

            Span<byte> frame = _urgent.AsSpan(_urgentLength, frameLength);
            FrameLayout.WriteHeader(frame, (uint)frameLength, immediate, requestId);
            payload.CopyTo(frame[FrameLayout.HeaderSize..]);
            Volatile.Write(ref _urgentLength, _urgentLength + frameLength);
        }

        // A running send loop takes it at its next slice; else one starts here, and writes it before it looks at
        // the queue (whose lock a writer may hold).
        if (Interlocked.CompareExchange(ref _sending, 1, 0) == 0)
        {
            _ = SendLoopAsync();
        }
    }

    // The urgent frames posted so far, written now. Only the send loop calls it.
    private ValueTask WriteUrgentAsync()
    {
        if (Volatile.Read(ref _urgentLength) == 0)
        {
            // The common case, once per write: no lock.
            return ValueTask.CompletedTask;
        }

        int length;
        lock (_urgentLock)
        {
            length = _urgentLength;
            if (length == 0)
            {
                return ValueTask.CompletedTask;
            }

            (_urgent, _urgentInFlight) = (_urgentInFlight, _urgent);
            Volatile.Write(ref _urgentLength, 0);
        }

        return WriteAsync(_urgentInFlight.AsMemory(0, length));
    }

    // Writes the swapped-out queue, slice by slice for a frame connection, with the urgent frames posted meanwhile
    // between two slices. Frames in it are whole: posting holds the send lock from BeginPost to EndPost, and the
    // queue is swapped under it.
    private ValueTask WriteQueueAsync(int length) =>
        _stream is not null || length <= SliceBytes ? WriteAsync(_inFlight.AsMemory(0, length)) : WriteSlicesAsync(length);

    private async ValueTask WriteSlicesAsync(int length)
    {
        int offset = 0, frameEnd = 0;
        while (offset < length)
        {
            int target = offset + SliceBytes;
            while (frameEnd < target && frameEnd < length)
            {
                frameEnd += (int)FrameLayout.ReadLength(_inFlight.AsSpan(frameEnd));
            }

            await WriteAsync(_inFlight.AsMemory(offset, frameEnd - offset)).ConfigureAwait(false);
            offset = frameEnd;

            // Read by the send queue's limit check under the send lock; not taken here, where a writer may hold it.
            Volatile.Write(ref _inFlightLength, length - offset);
            await WriteUrgentAsync().ConfigureAwait(false);
        }
    }
}
