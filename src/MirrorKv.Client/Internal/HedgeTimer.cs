using System.Diagnostics;

namespace MirrorKv.Client;

/// <summary>
/// The client's one timer for hedges: armed when a hedged read starts and none is scheduled, it scans the
/// pooled <see cref="HedgedRead"/>s, signals those that fell due and re-arms for the earliest one left. So a
/// read costs one volatile write and, at most once per hedge delay, a timer change: no timer and no
/// allocation per read, and no ticking while no read waits.
/// </summary>
internal sealed class HedgeTimer : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Stack<HedgedRead> _free = new();
    private readonly Timer _timer;
    private HedgedRead[] _all = [];
    private int _armed;

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

        read.Start(hedgeAt);

        // The read's deadline is written before _armed is read, the tick clears _armed before it scans: a
        // deadline is either seen by a running scan or arms the timer here.
        if (Interlocked.CompareExchange(ref _armed, 1, 0) == 0)
        {
            Arm(hedgeAt, Stopwatch.GetTimestamp());
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
        Volatile.Write(ref _armed, 0);
        Interlocked.MemoryBarrier();
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

        if (next != long.MaxValue && Interlocked.CompareExchange(ref _armed, 1, 0) == 0)
        {
            Arm(next, now);
        }
    }

    private void Arm(long at, long now)
    {
        // Timers count whole milliseconds: round up, so a hedge never fires early; at least 1 ms.
        long ms = Math.Max(1, ((at - now) * 1000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency);
        try
        {
            _timer.Change(ms, Timeout.Infinite);
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
