namespace MirrorKv.Adapter;

/// <summary>
/// Tells when every write that may have passed a cluster node's ownership check under an older view is done, so
/// that a slot's entries are exported (or deleted) only once no write of it can still land: two in-flight
/// counters, one per generation, as in sleepable RCU. A writer reads the generation, counts itself in that
/// generation's counter, then reads the view and checks its key; it uncounts itself once its entry is in the store.
/// A drainer that has published a fencing view flips the generation and waits until the old one's counter is 0.
/// </summary>
/// <remarks>
/// Why it is enough: the writer's increment and the drainer's flip are Interlocked operations (full fences), and
/// the writer reads the generation again after its increment, so either the drainer sees the writer's count (and
/// waits for it), or the writer sees the flip (and counts itself in the new generation, then reads the view after
/// the flip, so after the fencing view was published: it sees the fence). Writers never wait: three interlocked or
/// volatile operations per write on the hot path, nothing else. Drainers take turns.
/// </remarks>
internal sealed class WriteDrain
{
    // The two counters a cache line apart, so that the drainer's reads do not share a line with the generation.
    private const int Stride = 16;
    private readonly long[] _inFlight = new long[2 * Stride];
    private readonly Lock _drainers = new();
    private int _generation;

    /// <summary>Writes counted in either generation (for tests and status).</summary>
    public long InFlight => Interlocked.Read(ref _inFlight[0]) + Interlocked.Read(ref _inFlight[Stride]);

    /// <summary>Counts a write in; returns the token for <see cref="Exit"/>. Call before reading the view.</summary>
    public int Enter()
    {
        while (true)
        {
            int generation = Volatile.Read(ref _generation);
            Interlocked.Increment(ref _inFlight[generation * Stride]);

            // Read again after the full fence: a writer that read the generation before a flip but counted itself
            // after the drainer looked would otherwise sit in a counter that the next drain (flipping back) does
            // not wait for, with a view older than that drain's fence. Seeing the same generation means the
            // drainer of any flip away from it sees this count (each side fences, then reads the other's write).
            if (Volatile.Read(ref _generation) == generation)
            {
                return generation;
            }

            Interlocked.Decrement(ref _inFlight[generation * Stride]);
        }
    }

    /// <summary>Counts a write out, once its entry is in the store (or it was refused).</summary>
    public void Exit(int token) => Interlocked.Decrement(ref _inFlight[token * Stride]);

    /// <summary>
    /// Waits until every write that may have read a view older than the newest published before this call is done.
    /// Spins, then yields: the writes waited for run no I/O and take microseconds.
    /// </summary>
    public void Drain()
    {
        lock (_drainers)
        {
            int old = _generation;
            Interlocked.Exchange(ref _generation, 1 - old);
            var spin = new SpinWait();
            while (Interlocked.Read(ref _inFlight[old * Stride]) != 0)
            {
                spin.SpinOnce();
            }
        }
    }
}
