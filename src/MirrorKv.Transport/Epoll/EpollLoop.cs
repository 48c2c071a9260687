using System.Collections.Concurrent;
using System.Diagnostics;

namespace MirrorKv.Transport.Epoll;

/// <summary>
/// One event-loop thread over one epoll set, in the manner of redis's: wait for ready sockets, then for
/// each, one receive, delivery of every whole frame, one send of the replies. A pipelined batch costs one
/// epoll_wait (shared by every socket ready at that moment), one recv and one send, where the runtime's
/// socket engine adds a recv that finds nothing after each batch.
/// </summary>
/// <remarks>
/// After it runs out of work the loop keeps polling for the spin time (<see cref="SpinMicroseconds"/>, set by
/// the transport that owns the loop) before it sleeps: a request that arrives meanwhile is picked up at once,
/// and its sender does not pay for waking a sleeping thread on another core, which on loopback (and more so
/// in a virtual machine) costs more than serving the request. It spins only while spinning pays: while at
/// least half of its recent spins found work (<see cref="SpinPolicy"/>). Between two polls that find nothing it
/// yields its core (sched_yield): where the cores are shared, the process about to send the next request (a
/// client, the secondary) runs at once instead of waiting for the spin to end, and where nothing else wants the
/// core the yield returns at once. Under redis-benchmark's 50 clients at pipeline 1 on two cores the spinning
/// primary made 4-6 empty polls per SET; with the yield 0.7-1.7, and 12 % more SETs a second (docs/benchmarks.md).
/// </remarks>
internal sealed unsafe class EpollLoop
{
    private const int MaxEvents = 256;

    private readonly int _epoll;
    private readonly Thread _thread;
    private readonly ConcurrentDictionary<ulong, EpollConnection> _connections = new();

    private long _spinTicks;
    private long _nextId;

    public EpollLoop(string name)
    {
        _epoll = EpollNative.Create();
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>How long the loop polls after running out of work before it sleeps; 0 sleeps at once.</summary>
    public int SpinMicroseconds
    {
        get => (int)(Volatile.Read(ref _spinTicks) * 1_000_000 / Stopwatch.Frequency);
        set => Volatile.Write(ref _spinTicks, value * Stopwatch.Frequency / 1_000_000);
    }

    public ulong Add(EpollConnection connection, int fd, uint events)
    {
        ulong id = (ulong)Interlocked.Increment(ref _nextId);
        _connections[id] = connection;
        int error = EpollNative.Control(_epoll, EpollNative.CtlAdd, fd, events, id);
        if (error != 0)
        {
            _connections.TryRemove(id, out _);
            throw new System.Net.Sockets.SocketException(error, $"epoll_ctl(ADD) failed with errno {error}");
        }

        return id;
    }

    /// <summary>Changes what the loop waits for on a socket; safe from any thread.</summary>
    public void Modify(int fd, ulong id, uint events) => _ = EpollNative.Control(_epoll, EpollNative.CtlMod, fd, events, id);

    public void Remove(int fd, ulong id)
    {
        _ = EpollNative.Control(_epoll, EpollNative.CtlDel, fd, 0, id);
        _connections.TryRemove(id, out _);
    }

    // The loop lives as long as the process (see EpollLoopGroup), so it never ends.
    private void Run()
    {
        // Flushes asked for while this loop delivers (FlushAfterDelivery) wait until every connection ready in
        // the same wake-up was served.
        DeferredFlushes.ServeOnThisThread();
        EpollNative.EpollEvent* events = stackalloc EpollNative.EpollEvent[MaxEvents];
        SpinPolicy policy = SpinPolicy.Start();
        long spinUntil = SpinWindow(ref policy);
        bool spunEmpty = false;
        while (true)
        {
            // Poll without sleeping while inside this idle period's spin window, then sleep.
            int timeout = -1;
            if (spinUntil != 0)
            {
                if (Stopwatch.GetTimestamp() < spinUntil)
                {
                    timeout = 0;
                }
                else
                {
                    policy.Miss();
                    spinUntil = 0;
                }
            }

            int ready = EpollNative.Wait(_epoll, events, MaxEvents, timeout);
            if (ready <= 0)
            {
                if (timeout == 0)
                {
                    spunEmpty = true;

                    // Let whoever shares this core run before polling again (see the remarks).
                    Thread.Yield();
                }

                continue;
            }

            if (spinUntil != 0 && spunEmpty)
            {
                policy.Hit();
            }

            for (int i = 0; i < ready; i++)
            {
                if (_connections.TryGetValue(events[i].Data, out EpollConnection? connection))
                {
                    connection.OnEvents(events[i].Events);
                }
            }

            DeferredFlushes.FlushAll();

            // Out of work again: this idle period's window, if the policy spins.
            spinUntil = SpinWindow(ref policy);
            spunEmpty = false;
        }
    }

    // The end of the spin window of an idle period starting now, or 0 when the loop sleeps at once.
    private long SpinWindow(ref SpinPolicy policy)
    {
        long spinTicks = Volatile.Read(ref _spinTicks);
        return spinTicks > 0 && policy.ShouldSpin() ? Stopwatch.GetTimestamp() + spinTicks : 0;
    }
}
