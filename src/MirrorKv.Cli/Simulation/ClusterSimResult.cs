namespace MirrorKv.Cli.Simulation;

/// <summary>Everything one <c>cluster-sim</c> run measured.</summary>
/// <param name="Options">What was asked.</param>
/// <param name="Etcd">The etcd it ran against.</param>
/// <param name="Cores">Cores of this machine (shared with etcd, the watchers and the nodes).</param>
/// <param name="Map">The map's sizes.</param>
/// <param name="Leases">The primaries' lease renewals alone.</param>
/// <param name="LeasesAndReads">The same with the secondaries' in-sync reads.</param>
/// <param name="Watch">The watchers through map changes and a failover.</param>
/// <param name="Redirect">Redirections after a real slot move (null without nodes).</param>
/// <param name="Memory">The pointer tables' memory (null without nodes).</param>
/// <param name="NodesFailed">Why the nodes' part failed, or null (not run, or it ran).</param>
/// <param name="Elapsed">The whole run.</param>
internal sealed record ClusterSimResult(ClusterSimOptions Options, Uri Etcd, int Cores, MapFigures Map, LeaseFigures Leases, LeaseFigures LeasesAndReads, WatchFigures Watch,
    RedirectFigures? Redirect, MemoryFigures? Memory, string? NodesFailed, TimeSpan Elapsed);
