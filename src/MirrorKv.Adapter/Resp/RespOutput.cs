using MirrorKv.Transport;

namespace MirrorKv.Adapter.Resp;

/// <summary>
/// Where one RESP connection's replies go. RESP replies carry no request id, so they must leave in request
/// order: once a write's reply waits for the secondary's acknowledgement (sync replication), every reply after
/// it waits too, in a held buffer, and leaves when the acknowledgement covers it. Otherwise replies are written
/// straight into the connection's send queue.
/// </summary>
/// <remarks>
/// <para>Threads: <see cref="Begin"/>, <see cref="End"/> and <see cref="HoldUntil"/> run on the connection's
/// receive thread only; <see cref="OnAcked"/> and <see cref="OnFailed"/> on whichever thread handles the
/// secondary's acks. Held replies are cut into segments, each with the LSN it waits for; only the receive
/// thread adds segments, so when it sees nothing held it may post directly without the lock.</para>
/// <para>Memory: held bytes past <c>heldLimit</c> stop the connection's receives until half have left, and
/// held plus queued bytes past <c>hardLimit</c> close the connection (a reply nobody reads, or a huge MGET).</para>
/// </remarks>
internal sealed partial class RespOutput(IConnection connection, int heldLimit, long hardLimit) : IAckListener
{
    private readonly Lock _lock = new();
    private readonly Queue<(ulong Lsn, int End)> _segments = new();
    private byte[] _held = [];
    private int _heldStart;
    private int _heldEnd;
    private ulong _requirement;
    private bool _hasTail;
    private ulong _tailLsn;
    private volatile bool _holding;
    private bool _closeWhenReleased;
    private bool _beganHeld;
    private TaskCompletionSource? _heldDrained;

    public IConnection Connection { get; } = connection;

    /// <summary>RESP3 (after HELLO 3): nulls, maps and verbatim strings have their own types.</summary>
    public bool Resp3 { get; set; }

    /// <summary>True while replies wait for the secondary.</summary>
    public bool IsHolding => _holding;

    /// <summary>
    /// Closes the connection once every reply written so far has left: at once when none is held, else when
    /// the acknowledgement releases the last of them (QUIT after a write must not lose the write's OK).
    /// </summary>
    public void CloseAfterReplies()
    {
        lock (_lock)
        {
            if (_holding)
            {
                _closeWhenReleased = true;
                return;
            }
        }

        Connection.CloseAfterFlush();
    }

    /// <summary>Receive thread: from the next reply on, replies wait until <paramref name="lsn"/> is acknowledged.</summary>
    public void HoldUntil(ulong lsn)
    {
        lock (_lock)
        {
            _requirement = Math.Max(_requirement, lsn);
            _holding = true;
        }
    }

    /// <summary>Receive thread: room for a reply of at most <paramref name="maxLength"/> bytes; <see cref="End"/> commits it.</summary>
    public Span<byte> Begin(int maxLength)
    {
        if (_holding)
        {
            _lock.Enter();
            if (_holding)
            {
                if (_heldEnd - _heldStart + (long)maxLength + Connection.QueuedBytes > hardLimit)
                {
                    _lock.Exit();
                    throw OverLimit();
                }

                EnsureHeldRoom(maxLength);
                _beganHeld = true;
                return _held.AsSpan(_heldEnd, maxLength);
            }

            _lock.Exit();
        }

        if (Connection.QueuedBytes + (long)maxLength > hardLimit)
        {
            throw OverLimit();
        }

        _beganHeld = false;
        return Connection.BeginPostBytes(maxLength);
    }

    /// <summary>Receive thread: commits the first <paramref name="length"/> bytes of the span <see cref="Begin"/> gave.</summary>
    public void End(int length)
    {
        if (!_beganHeld)
        {
            Connection.EndPostBytes(length);
            return;
        }

        _beganHeld = false;
        _heldEnd += length;
        if (_hasTail && _tailLsn != _requirement)
        {
            _segments.Enqueue((_tailLsn, _heldEndBeforeTail));
        }

        _hasTail = true;
        _tailLsn = _requirement;
        _heldEndBeforeTail = _heldEnd;
        if (_heldEnd - _heldStart > heldLimit && _heldDrained is null)
        {
            // The secondary acknowledges slower than this client pipelines: read no more of its requests.
            _heldDrained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Connection.HoldReceivesUntil(_heldDrained.Task);
        }

        _lock.Exit();
    }

    // The end of the tail segment: the bytes that wait for _tailLsn.
    private int _heldEndBeforeTail;

    /// <inheritdoc />
    public void OnAcked(ulong ackedLsn)
    {
        lock (_lock)
        {
            int upTo = _heldStart;
            while (_segments.TryPeek(out (ulong Lsn, int End) segment) && segment.Lsn <= ackedLsn)
            {
                upTo = _segments.Dequeue().End;
            }

            if (_segments.Count == 0 && _hasTail && _tailLsn <= ackedLsn)
            {
                upTo = _heldEndBeforeTail;
                _hasTail = false;
            }

            if (upTo > _heldStart)
            {
                Post(_held.AsSpan(_heldStart, upTo - _heldStart));
                _heldStart = upTo;
            }

            if (!_hasTail && _segments.Count == 0)
            {
                _heldStart = _heldEnd = _heldEndBeforeTail = 0;
                if (_requirement <= ackedLsn)
                {
                    _holding = false;
                    if (_closeWhenReleased)
                    {
                        Connection.CloseAfterFlush();
                    }
                }
            }

            if (_heldDrained is not null && _heldEnd - _heldStart <= heldLimit / 2)
            {
                _heldDrained.TrySetResult();
                _heldDrained = null;
            }
        }
    }

    /// <inheritdoc />
    public void OnFailed(string message)
    {
        // Held replies may report writes the secondary never confirmed, and RESP cannot say which reply failed:
        // the connection closes, so that the client treats every unanswered command as not done.
        Connection.Abort(new IOException($"RESP connection closed: {message}"));
        lock (_lock)
        {
            _heldDrained?.TrySetResult();
            _heldDrained = null;
        }
    }

    private void Post(ReadOnlySpan<byte> bytes)
    {
        try
        {
            bytes.CopyTo(Connection.BeginPostBytes(bytes.Length));
            Connection.EndPostBytes(bytes.Length);
        }
        catch (ConnectionClosedException)
        {
            // The client left; its held replies have nowhere to go.
        }
    }

    // Under the lock: room for maxLength more held bytes, moving what is held to the front first.
    private void EnsureHeldRoom(int maxLength)
    {
        if (_held.Length - _heldEnd >= maxLength)
        {
            return;
        }

        int used = _heldEnd - _heldStart;
        byte[] target = _held.Length - used >= maxLength && _heldStart > 0 ? _held : new byte[Math.Max(Math.Max(_held.Length * 2, 4096), used + maxLength)];
        Buffer.BlockCopy(_held, _heldStart, target, 0, used);
        int shift = _heldStart;
        _held = target;
        _heldStart = 0;
        _heldEnd = used;
        _heldEndBeforeTail -= shift;
        int count = _segments.Count;
        for (int i = 0; i < count; i++)
        {
            (ulong lsn, int end) = _segments.Dequeue();
            _segments.Enqueue((lsn, end - shift));
        }
    }

    private ConnectionClosedException OverLimit()
    {
        var error = new ConnectionClosedException($"RESP connection closed: its unsent replies would pass {hardLimit} bytes");
        Connection.Abort(error);
        return error;
    }
}
