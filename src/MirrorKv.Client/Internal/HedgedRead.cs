using System.Threading.Tasks.Sources;

namespace MirrorKv.Client;

/// <summary>
/// What one hedged read waits on: a pooled, reusable awaitable that wakes its reader when either node's
/// operation completes (<see cref="PendingOperation.Observe"/>) or the hedge delay ran out
/// (<see cref="HedgeTimer"/>). No allocation per read.
/// </summary>
/// <remarks>
/// A wake-up is only a hint: the reader then looks at its operations' states and the clock, so a late
/// signal from an earlier use of this object (its token changed meanwhile) costs a spurious wake-up at
/// most, never a wrong answer. Like <see cref="PendingOperation"/>, it resumes the reader on the thread pool,
/// never on a receive loop or the timer thread.
/// </remarks>
internal sealed class HedgedRead(int index) : IValueTaskSource<int>, IThreadPoolWorkItem
{
    private ManualResetValueTaskSourceCore<int> _core;
    private int _token;
    private int _signalled;
    private int _waiting;
    private long _hedgeAt;

    public int Index { get; } = index;

    /// <summary>Tells this use apart from earlier ones, whose late signals are ignored.</summary>
    public int Token => Volatile.Read(ref _token);

    /// <summary>When the hedge falls due (a timestamp), or 0 once it fired or the read no longer needs it.</summary>
    public long HedgeAt => Volatile.Read(ref _hedgeAt);

    public void Start(long hedgeAt)
    {
        Interlocked.Increment(ref _token);
        Volatile.Write(ref _signalled, 0);
        Volatile.Write(ref _waiting, 0);
        Interlocked.Exchange(ref _hedgeAt, hedgeAt);
    }

    /// <summary>The read no longer needs its hedge (it was sent, or the read is over).</summary>
    public void Disarm() => Volatile.Write(ref _hedgeAt, 0);

    /// <summary>On the timer thread: claims a due hedge; true when this call should signal it.</summary>
    public bool TryFire(long now)
    {
        long at = Volatile.Read(ref _hedgeAt);
        return at != 0 && now >= at && Interlocked.CompareExchange(ref _hedgeAt, 0, at) == at;
    }

    /// <summary>Wakes the reader if it waits; otherwise its next <see cref="WaitAsync"/> returns at once.</summary>
    /// <remarks>
    /// The flag and the waiter are each set with a full fence before the other is read, here and in
    /// <see cref="WaitAsync"/>: with a plain store there, the reader's store of "waiting" could sit in its
    /// store buffer while it reads "not signalled", and this CAS read "not waiting", and the wake-up was lost
    /// (the reader then slept until another signal, forever if this was the last one).
    /// </remarks>
    public void Signal(int token)
    {
        if (Volatile.Read(ref _token) != token)
        {
            return;
        }

        Interlocked.Exchange(ref _signalled, 1);
        if (Interlocked.CompareExchange(ref _waiting, 0, 1) == 1)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    /// <summary>Waits for the next signal (or returns at once if one came since the reader last woke).</summary>
    public ValueTask<int> WaitAsync()
    {
        _core.Reset();
        if (Interlocked.Exchange(ref _signalled, 0) == 1)
        {
            return ValueTask.FromResult(0);
        }

        Interlocked.Exchange(ref _waiting, 1);

        // A signal between the exchange above and here saw no waiter: take it back ourselves.
        if (Volatile.Read(ref _signalled) == 1 && Interlocked.CompareExchange(ref _waiting, 0, 1) == 1)
        {
            Interlocked.Exchange(ref _signalled, 0);
            return ValueTask.FromResult(0);
        }

        return new ValueTask<int>(this, _core.Version);
    }

    // The flag is consumed by the reader as it resumes (GetResult), before it looks at the operations: a
    // signal that came after the one that woke it is either seen then or leaves the flag set for the next
    // wait. (Clearing it here, on the pool thread, could swallow such a signal.)
    void IThreadPoolWorkItem.Execute() => _core.SetResult(0);

    int IValueTaskSource<int>.GetResult(short token)
    {
        Interlocked.Exchange(ref _signalled, 0);
        return _core.GetResult(token);
    }

    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
