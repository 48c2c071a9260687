using System.Threading.Tasks.Sources;
using MirrorKv.Protocol;

namespace MirrorKv.Client;

/// <summary>
/// One outstanding work request and its completion: a pooled, reusable awaitable (no allocation per
/// operation) with a buffer that receives the reply's payload. The caller reads <see cref="Payload"/>
/// after awaiting and then returns the operation to its channel.
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

    // Who got there first: the awaiter registering a continuation, or the receive thread completing.
    private const int NotAwaited = 0;
    private const int Awaited = 1;
    private const int CompletedInline = 2;

    private ManualResetValueTaskSourceCore<int> _core;
    private int _race;
    private byte[] _buffer = new byte[512];
    private Exception? _error;
    private long _state;

    public int Index { get; } = index;

    public uint Generation { get; private set; }

    public ulong RequestId => ((ulong)Generation << 32) | (uint)Index;

    public long DeadlineTimestamp { get; private set; }

    public WireStatus Status { get; private set; }

    public int Length { get; private set; }

    public ReadOnlySpan<byte> Payload => _buffer.AsSpan(0, Length);

    public bool IsInFlight => (Volatile.Read(ref _state) & 0xFF) == InFlight;

    public void Start(long deadlineTimestamp)
    {
        _core.Reset();
        Generation++;
        Status = WireStatus.Ok;
        Length = 0;
        _error = null;
        _race = NotAwaited;
        DeadlineTimestamp = deadlineTimestamp;
        Volatile.Write(ref _state, ((long)Generation << 8) | InFlight);
    }

    public ValueTask<int> AsValueTask() => new(this, _core.Version);

    /// <summary>Delivers the reply; false when the operation already completed (timed out) or is another generation's.</summary>
    public bool TryComplete(uint generation, WireStatus status, ReadOnlySpan<byte> payload)
    {
        long inFlight = ((long)generation << 8) | InFlight;
        if (Interlocked.CompareExchange(ref _state, ((long)generation << 8) | Done, inFlight) != inFlight)
        {
            return false;
        }

        if (_buffer.Length < payload.Length)
        {
            _buffer = new byte[Math.Max(payload.Length, _buffer.Length * 2)];
        }

        payload.CopyTo(_buffer);
        Length = payload.Length;
        Status = status;
        Complete();
        return true;
    }

    public bool TryFail(Exception error)
    {
        long current = Volatile.Read(ref _state);
        if ((current & 0xFF) != InFlight || Interlocked.CompareExchange(ref _state, (current & ~0xFFL) | Done, current) != current)
        {
            return false;
        }

        _error = error;
        Complete();
        return true;
    }

    private void Complete()
    {
        if (Interlocked.CompareExchange(ref _race, CompletedInline, NotAwaited) == NotAwaited)
        {
            // Nobody waits: no continuation can run here.
            ((IThreadPoolWorkItem)this).Execute();
        }
        else if (completeOnReceiveThread)
        {
            // Opted in (MirrorKvClientOptions.CompleteOnReceiveThread): the awaiter resumes right here.
            ((IThreadPoolWorkItem)this).Execute();
        }
        else
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    public void Release() => Volatile.Write(ref _state, ((long)Generation << 8) | Free);

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
