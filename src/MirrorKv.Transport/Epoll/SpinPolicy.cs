namespace MirrorKv.Transport.Epoll;

/// <summary>
/// Whether an event loop that ran out of work polls for its spin time before it sleeps, judged by how its
/// recent spins ended: a spin pays when work arrives inside the window (the sender did not have to wake a
/// sleeping thread), and only burns a core when the window runs out. Spins go on while at least half of the
/// recent ones found work; below that the loop sleeps at once, and spins one idle period in
/// <see cref="ProbeEvery"/> to notice when the traffic comes back.
/// </summary>
/// <remarks>
/// Where the node has a core to itself either choice costs little. It matters where cores are shared: a
/// primary serving a few requests in flight, each one a client round trip after the last (three pairs of a
/// cluster on two cores, each primary with one or two of the client's requests) found work in 45-50 % of its
/// spins and took the rest's time from the client and the other nodes (a cluster cost 2.0-2.7× a pair per
/// operation with every primary spinning, 0.9-1.6× with none); with this policy it spins in about a third of
/// its idle periods. One primary fed by four connections finds work in 94-99 % of its spins and keeps
/// spinning, and the gain spinning was built for (docs/benchmarks.md).
/// A spin that finds work already waiting at its first poll proves nothing (sleeping would not have slept)
/// and is not counted.
/// </remarks>
internal struct SpinPolicy
{
    /// <summary>The credit a loop starts with and never exceeds: eight hits in a row.</summary>
    public const int MaxCredit = 8;

    /// <summary>With no credit, one idle period in this many still spins (a probe).</summary>
    public const int ProbeEvery = 8;

    private int _credit;
    private int _idlePeriods;

    /// <summary>A policy that spins until its spins stop finding work.</summary>
    public static SpinPolicy Start() => new() { _credit = MaxCredit };

    /// <summary>The credit now: 0 means the loop sleeps at once except on probes.</summary>
    public readonly int Credit => _credit;

    /// <summary>The loop ran out of work: whether to spin before sleeping.</summary>
    public bool ShouldSpin() => _credit > 0 || ++_idlePeriods % ProbeEvery == 0;

    /// <summary>Work arrived during a spin, after at least one poll that found none.</summary>
    public void Hit() => _credit = Math.Min(MaxCredit, _credit + 1);

    /// <summary>The spin window ran out with no work.</summary>
    public void Miss() => _credit = Math.Max(0, _credit - 1);
}
