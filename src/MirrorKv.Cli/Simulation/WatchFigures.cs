namespace MirrorKv.Cli.Simulation;

/// <summary>What <see cref="WatchFanOut"/> measured.</summary>
/// <param name="Watchers">Watches of the cluster's prefix (nodes simulated: two per pair).</param>
/// <param name="Changes">Map changes published, one at a time.</param>
/// <param name="SetupSeconds">Until every watcher had read the first map (all starting at once).</param>
/// <param name="P50Ms">Median, over watchers and changes, of the time from the start of the compare-and-swap until the watcher read the new map.</param>
/// <param name="P99Ms">Its 99th percentile.</param>
/// <param name="MaxMs">Its largest.</param>
/// <param name="AllSeenP50Ms">Median, over changes, of the time until the last watcher read the change.</param>
/// <param name="AllSeenMaxMs">Its largest.</param>
/// <param name="UpdatesPerChange">Updates the watchers took per change (a snapshot each: from a watch event, or from a read of the prefix), by their own count.</param>
/// <param name="EtcdRangesPerChange">Range requests etcd served per change, by its own counter (the publisher's read taken off): the watchers' reads of the prefix and their refresh checks.</param>
/// <param name="EtcdBytesPerChange">Bytes etcd sent to its clients per change (its <c>etcd_network_client_grpc_sent_bytes_total</c>).</param>
/// <param name="Problems">Failed reads or watches (a node logs "cannot read the cluster map from etcd" and tries again after 500 ms).</param>
/// <param name="LastVersion">The last map version published.</param>
/// <param name="AtLastVersion">Watchers whose latest read had it, at the end.</param>
/// <param name="Unconverged">Watchers that had not seen a change within the limit, summed over the changes and the failover.</param>
/// <param name="FailoverUpdates">Updates the watchers took for one pair's failover (leader key gone, then claimed).</param>
/// <param name="FailoverEtcdRanges">Range requests etcd served meanwhile.</param>
/// <param name="FailoverAllSeenMs">From the claim until the last watcher had read the new leader.</param>
internal sealed record WatchFigures(int Watchers, int Changes, double SetupSeconds, double P50Ms, double P99Ms, double MaxMs, double AllSeenP50Ms, double AllSeenMaxMs,
    double UpdatesPerChange, double EtcdRangesPerChange, double EtcdBytesPerChange, long Problems, ulong LastVersion, int AtLastVersion, int Unconverged,
    long FailoverUpdates, double FailoverEtcdRanges, double FailoverAllSeenMs)
{
    /// <summary>From the start until every watcher knew every pair's leader (filled in a page at a time after the map).</summary>
    public double LeadersFilledSeconds { get; init; }
}
