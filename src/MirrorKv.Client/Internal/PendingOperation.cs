using System.Buffers;
using System.Threading.Tasks.Sources;
using MirrorKv.Protocol;

namespace MirrorKv.Client;

/// <summary>
/// One outstanding work request and its completion: a pooled, reusable awaitable (no allocation per
/// operation) with a buffer that receives the reply's payload. The caller reads <see cref="Payload"/>
/// after awaiting and then returns the operation to its channel. An operation may stand for several work
/// requests (<see cref="Start"/> with parts), told apart by a part number in their request ids; it completes
/// once every part has its reply (<see cref="PartStatus"/>, <see cref="PartPayload"/>), so that a pipelined
/// batch of reads costs one completion, one wake-up and one rent instead of one per read. A single request is
/// the one-part case.
/// </summary>
/// <remarks>
/// The receive thread copies the reply in. If someone already awaits the operation, it queues the operation
/// itself to the thread pool, where the awaiting code resumes: user code never runs on a receive loop, and no
/// work item is allocated per completion (queueing a continuation delegate would allocate one). If nobody
/// awaits yet (the later replies of a pipelined batch), it completes inline and the await finds it done.
/// </remarks>
internal sealed class PendingOperation(int index, bool completeOnReceiveThread = false) : IValueTaskSource<int>, IThreadPoolWorkItem
{
    // The state word holds the generation too, so that a late reply for an earlier use of this operation
    // can never complete the current one: (generation << 8) | phase.
    private const long Free = 0;
    private const long InFlight = 1;
    private const long Done = 2;

    // A reply being copied in (on the receive thread): failing or releasing the operation waits.
    private const long Receiving = 3;

    /// <summary>Most parts one batch operation can stand for (the part number has 8 bits in the request id).</summary>
    public const int MaxParts = 256;

    // Larger reply buffers are dropped when the operation goes back to the pool.
    private const int RetainedBufferBytes = 256 * 1024;

    /// <summary>Most operations one channel can have (the index has 24 bits in the request id).</summary>
    public const int MaxOperations = 1 << 24;

    // Who got there first: the awaiter registering a continuation, or the receive thread completing.
    private const int NotAwaited = 0;
    private const int Awaited = 1;
    private const int CompletedInline = 2;

    private ManualResetValueTaskSourceCore<int> _core;
    private int _race;
    private byte[] _buffer = new byte[512];
    private bool _bufferRented;
    private Exception? _error;
    private long _state;
    private int _parts = 1;
    private int _partsReceived;
    private PartReply[] _partReplies = new PartReply[1];
    private HedgedRead? _observer;
    private int _observerToken;

    public int Index { get; } = index;

    public uint Generation { get; private set; }

    public ulong RequestId => PartRequestId(0);

    /// <summary>Parts this operation stands for (the count given to <see cref="Start"/>).</summary>
    public int Parts => _parts;

    public long DeadlineTimestamp { get; private set; }

    /// <summary>The reply's status (of part 0, the only one of a single request).</summary>
    public WireStatus Status => _partReplies[0].Status;

    /// <summary>Bytes of reply payload received, all parts together.</summary>
    public int Length { get; private set; }

    /// <summary>A single request's reply payload (all parts' payloads, one after another, for several).</summary>
    public ReadOnlySpan<byte> Payload => _buffer.AsSpan(0, Length);

    /// <summary>After completion: whether the operation failed (timeout, closed connection) rather than got its replies.</summary>
    public bool Faulted => _error is not null;

    public bool IsInFlight => (Volatile.Read(ref _state) & 0xFF) is InFlight or Receiving;

    /// <summary>Starts an operation of <paramref name="parts"/> work requests, posted with <see cref="PartRequestId"/>.</summary>
    public void Start(long deadlineTimestamp, int parts = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parts, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(parts, MaxParts);
        if (_partReplies.Length < parts)
        {
            _partReplies = new PartReply[Math.Max(parts, 16)];
        }

        _partReplies.AsSpan(0, parts).Fill(new PartReply(-1, 0, WireStatus.Ok));
        _core.Reset();
        _parts = parts;
        _partsReceived = 0;
        Generation++;
        Length = 0;
        _error = null;
        _race = NotAwaited;
        _observer = null;
        DeadlineTimestamp = deadlineTimestamp;
        Volatile.Write(ref _state, ((long)Generation << 8) | InFlight);
    }

    /// <summary>The request id of part <paramref name="part"/>.</summary>
    public ulong PartRequestId(int part) => ((ulong)Generation << 32) | ((uint)part << 24) | (uint)Index;

    /// <summary>
    /// After completion: whether part <paramref name="part"/> got its reply (all of them
    /// did, unless the operation failed; replies that came before a failure stay readable).
    /// </summary>
    public bool PartReceived(int part) => _partReplies[part].Offset >= 0;

    /// <summary>After completion: part <paramref name="part"/>'s reply status.</summary>
    public WireStatus PartStatus(int part) => _partReplies[part].Status;

    /// <summary>After completion: where part <paramref name="part"/>'s reply payload starts in <see cref="Payload"/> (replies are appended as they come).</summary>
    public int PartOffset(int part) => _partReplies[part].Offset;

    /// <summary>After completion: part <paramref name="part"/>'s reply payload.</summary>
    public ReadOnlySpan<byte> PartPayload(int part)
    {
        PartReply reply = _partReplies[part];
        return _buffer.AsSpan(reply.Offset, reply.Length);
    }

    public ValueTask<int> AsValueTask() => new(this, _core.Version);

    /// <summary>
    /// Instead of awaiting this operation, have its completion (reply or failure) signal <paramref name="read"/>,
    /// which waits on two operations and a hedge timer at once. Call before posting the request.
    /// </summary>
    public void Observe(HedgedRead read)
    {
        _observerToken = read.Token;
        _observer = read;
    }

    /// <summary>
    /// Delivers the reply to part <paramref name="part"/>; false when the operation already completed (timed
    /// out), is another generation's, or has no such part waiting.
    /// </summary>
    /// <remarks>
    /// Only the receive thread delivers replies, so parts never race each other; the Receiving state keeps a
    /// concurrent failure (timer, close) or release from touching the operation while a reply is copied in.
    /// </remarks>
    public bool TryComplete(uint generation, int part, WireStatus status, ReadOnlySpan<byte> payload)
    {
        long inFlight = ((long)generation << 8) | InFlight;
        long receiving = (inFlight & ~0xFFL) | Receiving;
        if (Interlocked.CompareExchange(ref _state, receiving, inFlight) != inFlight)
        {
            return false;
        }

        if ((uint)part >= (uint)_parts || _partReplies[part].Offset >= 0)
        {
            // Not one of its parts, or a second reply to one: the node misbehaves; the part stays as it was.
            Volatile.Write(ref _state, inFlight);
            return false;
        }

        int used = Length; // the parts' replies are appended
        if (_buffer.Length - used < payload.Length)
        {
            Grow(Math.Max(used + payload.Length, _buffer.Length * 2), used);
        }

        payload.CopyTo(_buffer.AsSpan(used));
        _partReplies[part] = new PartReply(used, payload.Length, status);
        Length = used + payload.Length;
        if (++_partsReceived < _parts)
        {
            Volatile.Write(ref _state, inFlight);
            return true;
        }

        Complete((inFlight & ~0xFFL) | Done);
        return true;
    }

    public bool TryFail(Exception error)
    {
        while (true)
        {
            long current = StateOnceClaimLetGo();
            if ((current & 0xFF) != InFlight)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _state, (current & ~0xFFL) | Receiving, current) == current)
            {
                _error = error;
                Complete((current & ~0xFFL) | Done);
                return true;
            }
        }
    }

    // The state, once no one holds the operation claimed (Receiving): the receive thread copying a reply in,
    // or whoever completes it, never blocks while it holds it, so this waits a moment at most.
    private long StateOnceClaimLetGo()
    {
        var spin = default(SpinWait);
        long current;
        while (((current = Volatile.Read(ref _state)) & 0xFF) == Receiving)
        {
            spin.SpinOnce(sleep1Threshold: -1);
        }

        return current;
    }

    // Called by whoever claimed the operation (state Receiving); leaves it in the done state.
    private void Complete(long done)
    {
        // Read while the operation is claimed: once it is done, its caller may release and reuse it.
        HedgedRead? observer = _observer;
        int token = _observerToken;
        if (observer is not null)
        {
            // The observer's reader looks at the state, not at the core: complete both, then wake it.
            ((IThreadPoolWorkItem)this).Execute();
            Volatile.Write(ref _state, done);
            observer.Signal(token);
            return;
        }

        if (Interlocked.CompareExchange(ref _race, CompletedInline, NotAwaited) == NotAwaited)
        {
            // Nobody waits, so no continuation can run here: complete the core before letting go of the
            // operation, so that a caller who gave up on it and releases it meanwhile cannot reuse it while
            // this completion is still on its way into the core.
            ((IThreadPoolWorkItem)this).Execute();
            Volatile.Write(ref _state, done);
            return;
        }

        // Someone awaits: they release the operation only once resumed, after the core is complete.
        Volatile.Write(ref _state, done);
        if (completeOnReceiveThread)
        {
            // Opted in (MirrorKvClientOptions.CompleteOnReceiveThread): the awaiter resumes right here.
            ((IThreadPoolWorkItem)this).Execute();
        }
        else
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    /// <summary>Back to the pool; an operation still in flight (its caller gave up on it) refuses its late replies from here on.</summary>
    public void Release()
    {
        while (true)
        {
            long current = StateOnceClaimLetGo();
            if (Interlocked.CompareExchange(ref _state, ((long)Generation << 8) | Free, current) == current)
            {
                break;
            }
        }

        if (_buffer.Length > RetainedBufferBytes)
        {
            // A batch of large values grew it, or a large read reserved it: keep pooled operations small.
            ReleaseBuffer();
            _buffer = new byte[512];
        }
    }

    /// <summary>
    /// Before its requests are posted: makes room for <paramref name="bytes"/> of replies at once, so that a large
    /// entry read in pieces lands in one buffer taken from the shared pool (and given back when the operation is),
    /// instead of one that doubles, and is dropped, piece by piece.
    /// </summary>
    public void Reserve(int bytes)
    {
        if (_buffer.Length < bytes)
        {
            Grow(bytes, 0);
        }
    }

    private void Grow(int bytes, int keep)
    {
        byte[] bigger = bytes > RetainedBufferBytes ? ArrayPool<byte>.Shared.Rent(bytes) : new byte[bytes];
        _buffer.AsSpan(0, keep).CopyTo(bigger);
        ReleaseBuffer();
        _buffer = bigger;
        _bufferRented = bytes > RetainedBufferBytes;
    }

    private void ReleaseBuffer()
    {
        if (_bufferRented)
        {
            _bufferRented = false;
            ArrayPool<byte>.Shared.Return(_buffer);
        }
    }

    /// <summary>On a thread-pool thread: resumes whoever awaits this operation.</summary>
    void IThreadPoolWorkItem.Execute()
    {
        if (_error is { } error)
        {
            _core.SetException(error);
        }
        else
        {
            _core.SetResult(Length);
        }
    }

    private readonly record struct PartReply(int Offset, int Length, WireStatus Status);

    int IValueTaskSource<int>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
    {
        if (Interlocked.CompareExchange(ref _race, Awaited, NotAwaited) == CompletedInline)
        {
            // The receive thread is completing inline: once it has, the core queues this continuation
            // to the thread pool instead of running it on the receive thread.
            var spin = default(SpinWait);
            while (_core.GetStatus(token) == ValueTaskSourceStatus.Pending)
            {
                spin.SpinOnce();
            }
        }

        _core.OnCompleted(continuation, state, token, flags);
    }
}
