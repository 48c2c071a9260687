using MirrorKv.Protocol;
using MirrorKv.Transport;

namespace MirrorKv.Adapter;

/// <summary>
/// Sync-mode writes waiting for the secondary: each holds its reply until the cumulative ack reaches the
/// LSN that was current when the write finished (its own record's LSN or a later one: waiting longer is safe).
/// </summary>
internal sealed class AckWaiters
{
    private readonly Lock _lock = new();
    private readonly Queue<Waiter> _waiting = new();
    private readonly List<IConnection> _toFlush = [];
    private ulong _acked;
    private long _lastProgress;
    private volatile bool _holding;

    /// <summary>
    /// Makes the entries of records up to an LSN readable (<see cref="MirrorKv.Store.StoreEngine.Publish"/>); called
    /// under this object's lock before the replies an ack releases are posted, so a writer never hears of a value
    /// its readers cannot see yet.
    /// </summary>
    public Func<ulong, int>? Publish { get; init; }

    /// <summary>Number of writes waiting.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _waiting.Count;
            }
        }
    }

    /// <summary>How long the oldest write has been waiting for its ack (zero when none waits).</summary>
    public TimeSpan OldestWait
    {
        get
        {
            lock (_lock)
            {
                return _waiting.TryPeek(out Waiter w) ? System.Diagnostics.Stopwatch.GetElapsedTime(w.Since) : TimeSpan.Zero;
            }
        }
    }

    /// <summary>
    /// How long writes have waited with no ack moving them on: the oldest one's wait, counted from the last ack that
    /// confirmed more than the one before it when that came later (zero when none waits). A secondary that applies a
    /// backlog slowly keeps this short; one that applies nothing lets it grow.
    /// </summary>
    public TimeSpan StalledFor
    {
        get
        {
            lock (_lock)
            {
                return _waiting.TryPeek(out Waiter w) ? System.Diagnostics.Stopwatch.GetElapsedTime(Math.Max(w.Since, _lastProgress)) : TimeSpan.Zero;
            }
        }
    }

    /// <summary>The highest LSN the secondary has confirmed.</summary>
    public ulong AckedLsn
    {
        get
        {
            lock (_lock)
            {
                return _acked;
            }
        }
    }

    /// <summary>Holds a reply (a write's, or a LOOKUP's of a pending entry) until <paramref name="lsn"/> is acked; false when it already is (reply now).</summary>
    public bool TryWait(ulong lsn, IConnection connection, Opcode opcode, ulong requestId, in KvReply reply)
    {
        lock (_lock)
        {
            if (lsn <= _acked && !_holding)
            {
                return false;
            }

            _waiting.Enqueue(new Waiter(lsn, connection, opcode, requestId, reply, System.Diagnostics.Stopwatch.GetTimestamp()));
            return true;
        }
    }

    /// <summary>
    /// Holds a GET's reply until <paramref name="lsn"/> is acked: the value (in <paramref name="value"/>, rented from
    /// <see cref="System.Buffers.ArrayPool{T}.Shared"/>, which this object returns) is not published yet. False when
    /// it already is (reply now; the array stays the caller's).
    /// </summary>
    public bool TryWaitValue(ulong lsn, IConnection connection, ulong requestId, in KvReply reply, byte[] value, int valueLength)
    {
        lock (_lock)
        {
            if (lsn <= _acked && !_holding)
            {
                return false;
            }

            _waiting.Enqueue(new Waiter(lsn, connection, Opcode.Get, requestId, reply, System.Diagnostics.Stopwatch.GetTimestamp()) { Value = value, ValueLength = valueLength });
            return true;
        }
    }

    /// <summary>
    /// Holds a LOOKUP's NotFound until <paramref name="lsn"/> is acked: the key's delete is not published yet, and the
    /// secondary must hold it before a reader hears of it. False when it already is (reply now).
    /// </summary>
    public bool TryWaitNotFound(ulong lsn, IConnection connection, Opcode opcode, ulong requestId)
    {
        lock (_lock)
        {
            if (lsn <= _acked && !_holding)
            {
                return false;
            }

            _waiting.Enqueue(new Waiter(lsn, connection, opcode, requestId, default, System.Diagnostics.Stopwatch.GetTimestamp()) { NotFound = true });
            return true;
        }
    }

    /// <summary>Holds <paramref name="listener"/>'s replies until <paramref name="lsn"/> is acked; false when it already is (release them now).</summary>
    public bool TryWait(ulong lsn, IAckListener listener)
    {
        lock (_lock)
        {
            if (lsn <= _acked && !_holding)
            {
                return false;
            }

            _waiting.Enqueue(new Waiter(lsn, listener.Connection, Opcode.Write, 0, default, System.Diagnostics.Stopwatch.GetTimestamp()) { Listener = listener });
            return true;
        }
    }

    /// <summary>The secondary applied everything up to <paramref name="lsn"/>: send the replies it covers.</summary>
    public void Ack(ulong lsn)
    {
        lock (_lock)
        {
            if (lsn > _acked)
            {
                _acked = lsn;
                _lastProgress = System.Diagnostics.Stopwatch.GetTimestamp();
            }

            Publish?.Invoke(_acked);
            while (_waiting.TryPeek(out Waiter w) && w.Lsn <= _acked)
            {
                _waiting.Dequeue();
                if (w.Listener is { } listener)
                {
                    listener.OnAcked(_acked);
                }

                if ((w.Listener is not null || Post(w)) && !_toFlush.Contains(w.Connection))
                {
                    _toFlush.Add(w.Connection);
                }
            }

            // Every reply this ack released is posted first, then each connection is flushed once: one
            // write per client for the whole batch.
            foreach (IConnection connection in _toFlush)
            {
                connection.Flush();
            }

            _toFlush.Clear();
        }
    }

    /// <summary>
    /// The secondary is gone: the pair is unprotected and the writes stand on the primary alone, as every
    /// write after this will until a secondary attaches again. Their replies go out now, and later writes
    /// do not wait until <see cref="Reset"/>.
    /// </summary>
    public void ReleaseAll()
    {
        _holding = false;
        Ack(ulong.MaxValue);
    }

    /// <summary>
    /// Whether replies are held with no secondary attached: the primary lost it and may not acknowledge alone
    /// yet (the witness still names it in sync). Every write waits, whatever its LSN, until <see cref="ReleaseAll"/>
    /// or <see cref="FailAll"/>.
    /// </summary>
    public bool Holding => _holding;

    /// <summary>Starts holding (see <see cref="Holding"/>).</summary>
    public void Hold()
    {
        lock (_lock)
        {
            _holding = true;
        }
    }

    /// <summary>Stops holding without releasing anything: the writes held were failed by a fence, or a secondary took over their wait.</summary>
    public void Unhold()
    {
        lock (_lock)
        {
            _holding = false;
        }
    }

    /// <summary>
    /// The primary fenced itself: the waiting writes were never confirmed by the secondary, and the secondary
    /// may now be primary. They are answered <paramref name="status"/>, so that no client takes them as acknowledged.
    /// </summary>
    public void FailAll(WireStatus status, string message)
    {
        lock (_lock)
        {
            while (_waiting.TryDequeue(out Waiter w))
            {
                ReturnValue(w);
                if (!w.Connection.IsOpen)
                {
                    continue;
                }

                if (w.Listener is { } listener)
                {
                    listener.OnFailed(message);
                    continue;
                }

                try
                {
                    // A LOOKUP that waited for a pending entry: the entry stays unpublished, and this node serves nothing now.
                    bool lookup = w.Opcode is Opcode.Lookup or Opcode.Get;
                    Replies.Error(w.Connection, w.Opcode, w.RequestId, lookup ? WireStatus.NotPrimary : status, lookup ? "this node fenced itself while the key's last write waited for the secondary: ask the other node" : message);
                    w.Connection.Flush();
                }
                catch (ConnectionClosedException)
                {
                }
            }

            // The acknowledged LSN stays: the secondary holds what it confirmed, whatever became of the writes after
            // it. Cleared, it read as the whole stream being lag (STATUS, INFO, the lag gauge) after a fence renewed on
            // the same link, and a switchover waited for an ack that no write was coming to bring.
        }
    }

    /// <summary>
    /// A secondary attached after <paramref name="lsn"/>: writes after it wait for its acks. Entries still unpublished
    /// up to it (left by a fence, or by a secondary that was lost) are published now: no earlier secondary can hold or
    /// serve them any more, and the new one copies them from the slabs, which must show them whole (it skips odd
    /// versions as torn by a write whose record it will get, and these records it will not get).
    /// </summary>
    public void Reset(ulong lsn)
    {
        lock (_lock)
        {
            _acked = lsn;
            Publish?.Invoke(lsn);
        }
    }

    private static void ReturnValue(in Waiter w)
    {
        if (w.Value is { } value)
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(value);
        }
    }

    private static bool Post(in Waiter w)
    {
        if (!w.Connection.IsOpen)
        {
            ReturnValue(w);
            return false;
        }

        try
        {
            if (w.Value is { } value)
            {
                try
                {
                    Replies.Value(w.Connection, w.RequestId, w.Reply, value.AsSpan(0, w.ValueLength));
                }
                finally
                {
                    ReturnValue(w);
                }

                return true;
            }

            if (w.NotFound)
            {
                Replies.Error(w.Connection, w.Opcode, w.RequestId, WireStatus.NotFound, "key not found");
                return true;
            }

            w.Reply.Write(w.Connection.BeginPost(w.Opcode | Opcode.ReplyBit, WireStatus.Ok, w.RequestId, KvReply.Size));
            w.Connection.EndPost();
            return true;
        }
        catch (ConnectionClosedException)
        {
            // The client left; it will find its write by LOOKUP if it comes back.
            return false;
        }
    }

    private readonly record struct Waiter(ulong Lsn, IConnection Connection, Opcode Opcode, ulong RequestId, KvReply Reply, long Since)
    {
        /// <summary>Set for a connection that holds its own replies (RESP): it is told, instead of a KvReply being posted.</summary>
        public IAckListener? Listener { get; init; }

        /// <summary>A LOOKUP of a key whose delete waited for the ack: answered NotFound, not with <see cref="Reply"/>.</summary>
        public bool NotFound { get; init; }

        /// <summary>A GET's value, rented; returned to the pool once posted or dropped.</summary>
        public byte[]? Value { get; init; }

        public int ValueLength { get; init; }
    }
}
