using MirrorKv.Protocol;

namespace MirrorKv.Adapter;

/// <summary>
/// A cluster's keys in etcd, all under <c>/mirrorkv/clusters/{name}/</c>: <c>map</c> (the cluster map, JSON,
/// written only by compare-and-swap on its version) and, per pair, <c>pairs/{id}/leader</c>, <c>epoch</c>
/// and <c>in-sync</c> (the pair's own coordinator keys, as a pair on its own keeps them under
/// <c>/mirrorkv/pairs/{id}/</c>: a failover inside one pair touches no other pair's keys). One read of the
/// prefix gives the map and every pair's primary; a watch of it brings each change of either, value included.
/// </summary>
public sealed class ClusterDirectory : IDisposable
{
    // Retries of a watcher whose read or watch failed: see WatchAsync.
    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan LastRetry = TimeSpan.FromSeconds(15);

    private readonly EtcdClient _etcd;

    /// <summary>A directory of cluster <paramref name="cluster"/> in the etcd at <paramref name="endPoints"/>.</summary>
    public ClusterDirectory(IReadOnlyList<Uri> endPoints, string cluster, TimeSpan? requestTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(endPoints);
        if (!ClusterMap.IsValidName(cluster))
        {
            throw new ArgumentException($"cluster name '{cluster}' must be 1 to {ClusterMap.MaxNameLength} letters, digits, '-', '_' or '.'", nameof(cluster));
        }

        Cluster = cluster;
        _etcd = new EtcdClient(endPoints, requestTimeout ?? TimeSpan.FromSeconds(2));
    }

    /// <summary>The cluster's name.</summary>
    public string Cluster { get; }

    /// <summary>The prefix under which cluster <paramref name="cluster"/> keeps its keys.</summary>
    public static string PrefixOf(string cluster) => $"/mirrorkv/clusters/{cluster}/";

    private string Prefix => PrefixOf(Cluster);

    private string MapKey => $"{Prefix}map";

    /// <summary>Reads the map and every pair's leader in one request.</summary>
    /// <exception cref="InvalidOperationException">etcd cannot be reached, or the map in it is not valid.</exception>
    public async Task<ClusterSnapshot> ReadAsync(CancellationToken cancellationToken = default)
    {
        (IReadOnlyList<(string Key, EtcdClient.Entry Entry)> entries, _) = await Etcd(() => _etcd.RangePrefixAsync(Prefix, cancellationToken)).ConfigureAwait(false);
        return new ClusterWatchState(Cluster, entries).Snapshot();
    }

    /// <summary>
    /// Writes <paramref name="next"/> if the map in etcd is still the one <paramref name="basedOn"/> read (its
    /// modification revision unchanged: a compare-and-swap on the version) and <paramref name="next"/>'s version
    /// is one above it; the first map (none in <paramref name="basedOn"/>) only if there is still none.
    /// False when someone else changed the map first: read again and decide anew.
    /// </summary>
    /// <exception cref="ArgumentException">The version is not the next one, or the map is of another cluster.</exception>
    public async Task<bool> TryPublishAsync(ClusterMap next, ClusterSnapshot basedOn, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(next);
        ArgumentNullException.ThrowIfNull(basedOn);
        ulong expected = (basedOn.Map?.Version ?? 0) + 1;
        if (next.Version != expected || next.Name != Cluster)
        {
            throw new ArgumentException($"the next map of cluster '{Cluster}' must have version {expected}; got '{next.Name}' version {next.Version}");
        }

        (string, long, long?) compare = basedOn.Map is null ? (MapKey, 0, null) : (MapKey, basedOn.MapCreateRevision, basedOn.MapRevision);
        long revision = await Etcd(() => _etcd.PutIfAsync([compare], [(MapKey, ClusterMapRecord.Encode(next), 0)], cancellationToken)).ConfigureAwait(false);
        return revision != 0;
    }

    /// <summary>
    /// Calls <paramref name="onChange"/> with a snapshot at once and then whenever the map or a pair's leader changes,
    /// until cancelled. It reads the prefix once, then takes every change from the watch's events, which carry the new
    /// values: a change costs a watcher the changed key, not a read of the prefix (900 KB at 1,000 pairs, once per
    /// node per change). Every <paramref name="refresh"/> it compares the map key's revision with etcd's (a read
    /// without the value) and reads everything again when they differ or the watch ended; it goes on through etcd
    /// outages, serving the last state (<paramref name="onProblem"/> hears of them), asking again after 0.5 s, then
    /// twice as long each time up to 15 s, jittered.
    /// </summary>
    public async Task WatchAsync(Action<ClusterSnapshot> onChange, Action<string>? onProblem, TimeSpan refresh, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(onChange);
        TimeSpan backoff = FirstRetry;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                (IReadOnlyList<(string Key, EtcdClient.Entry Entry)> entries, long revision) = await _etcd.RangePrefixAsync(Prefix, cancellationToken).ConfigureAwait(false);
                backoff = FirstRetry;
                var state = new ClusterWatchState(Cluster, entries);
                onChange(state.Snapshot());
                using var watching = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                Task watch = _etcd.WatchPrefixAsync(Prefix, revision + 1, changes =>
                {
                    if (state.Apply(changes))
                    {
                        onChange(state.Snapshot());
                    }
                }, watching.Token);
                try
                {
                    await UntilBehindOrEndedAsync(watch, state, refresh, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    // Read everything again and watch from there.
                    await watching.CancelAsync().ConfigureAwait(false);
                    try
                    {
                        await watch.ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (watching.IsCancellationRequested)
                    {
                    }
                }
            }
            catch (Exception e) when (e is EtcdException or FormatException or HttpRequestException or IOException or System.Text.Json.JsonException && !cancellationToken.IsCancellationRequested)
            {
                // Doubling, up to LastRetry, each wait drawn between half and all of it: when a whole cluster's nodes
                // time out on an etcd they swamp together, fixed retries keep it swamped (at 1,000 pairs no node ever
                // read the map); spread out, the reads get through.
                onProblem?.Invoke(e.Message);
                await Task.Delay(backoff * (0.5 + (Random.Shared.NextDouble() / 2)), cancellationToken).ConfigureAwait(false);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, LastRetry.Ticks));
            }
        }
    }

    // Returns when the watch ends, or when a refresh check finds in etcd a map newer than the watch's events gave (a
    // change missed, or one still on its way: then the prefix is read once more than needed).
    private async Task UntilBehindOrEndedAsync(Task watch, ClusterWatchState state, TimeSpan refresh, CancellationToken cancellationToken)
    {
        while (await Task.WhenAny(watch, Task.Delay(refresh, cancellationToken)).ConfigureAwait(false) != watch)
        {
            if (await _etcd.ModRevisionAsync(MapKey, cancellationToken).ConfigureAwait(false) > state.MapRevision)
            {
                return;
            }
        }
    }

    /// <inheritdoc />
    public void Dispose() => _etcd.Dispose();

    private static async Task<T> Etcd<T>(Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (EtcdException e)
        {
            throw new InvalidOperationException(e.Message, e);
        }
        catch (FormatException e)
        {
            throw new InvalidOperationException(e.Message, e);
        }
    }
}
