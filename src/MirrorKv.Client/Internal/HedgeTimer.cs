using System.Diagnostics;

namespace MirrorKv.Client;

/// <summary>
/// The client's one timer for hedges: armed when a hedged read starts and none is scheduled, it scans the
/// pooled <see cref="HedgedRead"/>s, signals those that fell due and re-arms for the earliest one left. So a
/// read costs a fenced write and a read and, about once per hedge delay, a timer change under a lock: no
/// timer and no allocation per read, and no ticking while no read waits.
/// </summary>
internal sealed class HedgeTimer : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Stack<HedgedRead> _free = new();
    private readonly Timer _timer;
    private HedgedRead[] _all = [];

    // When the timer fires next (a timestamp), 0 while it is idle. Written under _lock.
    private long _armedAt;

    public HedgeTimer()
    {
        _timer = new Timer(static s => ((HedgeTimer)s!).OnTick(), this, Timeout.Infinite, Timeout.Infinite);
    }

    public HedgedRead Rent(long hedgeAt)
    {
        HedgedRead? read;
        lock (_lock)
        {
            if (!_free.TryPop(out read))
            {
                read = new HedgedRead(_all.Length);
                _all = [.. _all, read];
            }
        }

        // Start publishes the deadline with a full fence before _armedAt is read, and a tick clears _armedAt
        // (under the lock) before it scans: a deadline is either seen by that scan or arms the timer here.
        // Deadlines mostly come in rising order, so this takes the lock only when the timer is idle.
        read.Start(hedgeAt);
        long armedAt = Volatile.Read(ref _armedAt);
        if (armedAt == 0 || hedgeAt < armedAt)
        {
            Arm(hedgeAt);
        }

        return read;
    }

    public void Return(HedgedRead read)
    {
        read.Disarm();
        lock (_lock)
        {
            _free.Push(read);
        }
    }

    public void Dispose() => _timer.Dispose();

    private void OnTick()
    {
        lock (_lock)
        {
            // A full fence between this store and the scan's reads, as Rent has between its deadline's store and
            // its read of _armedAt: either this scan sees the deadline, or Rent sees the timer idle and arms it.
            Interlocked.Exchange(ref _armedAt, 0);
        }

        long now = Stopwatch.GetTimestamp();
        long next = long.MaxValue;
        foreach (HedgedRead read in Volatile.Read(ref _all))
        {
            if (read.TryFire(now))
            {
                // The token is read after the claim: Start writes it before the deadline, so it is the claimed use's.
                read.Signal(read.Token);
            }
            else if (read.HedgeAt is > 0 and long at && at < next)
            {
                next = at;
            }
        }

        if (next != long.MaxValue)
        {
            Arm(next);
        }
    }

    // The timer always runs to the earliest deadline it was given since it last fired.
    private void Arm(long at)
    {
        lock (_lock)
        {
            if (_armedAt != 0 && _armedAt <= at)
            {
                return;
            }

            _armedAt = at;

            // Timers count whole milliseconds: round up, so a hedge never fires early; at least 1 ms.
            long ms = Math.Max(1, ((at - Stopwatch.GetTimestamp()) * 1000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency);
            try
            {
                _timer.Change(ms, Timeout.Infinite);
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }
}
