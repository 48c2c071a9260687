using MirrorKv.Protocol;

namespace MirrorKv.Adapter;

/// <summary>
/// A cluster's keys in etcd, all under <c>/mirrorkv/clusters/{name}/</c>: <c>map</c> (the cluster map, JSON,
/// written only by compare-and-swap on its version) and, per pair, <c>pairs/{id}/leader</c>, <c>epoch</c>
/// and <c>in-sync</c> (the pair's own coordinator keys, as a pair on its own keeps them under
/// <c>/mirrorkv/pairs/{id}/</c>: a failover inside one pair touches no other pair's keys). One read of the
/// prefix gives the map and every pair's primary; a watch of it tells a node when either changed.
/// </summary>
public sealed class ClusterDirectory : IDisposable
{
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
        return Snapshot(entries);
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
    /// Calls <paramref name="onChange"/> with a fresh snapshot at once and then whenever anything under the
    /// cluster's prefix changes (the map, a pair's leader), until cancelled. Reads again at least every
    /// <paramref name="refresh"/> as well, and goes on through etcd outages (<paramref name="onProblem"/> hears
    /// of them): a watch is a trigger, the read is what counts.
    /// </summary>
    public async Task WatchAsync(Action<ClusterSnapshot> onChange, Action<string>? onProblem, TimeSpan refresh, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(onChange);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                (IReadOnlyList<(string Key, EtcdClient.Entry Entry)> entries, long revision) = await _etcd.RangePrefixAsync(Prefix, cancellationToken).ConfigureAwait(false);
                onChange(Snapshot(entries));
                using var changed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                changed.CancelAfter(refresh);
                try
                {
                    // Any event ends this watch: the loop reads everything again, so a burst of events costs one read.
                    await _etcd.WatchPrefixAsync(Prefix, revision + 1, () => changed.Cancel(), changed.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                }
            }
            catch (Exception e) when (e is EtcdException or FormatException or HttpRequestException or IOException or System.Text.Json.JsonException && !cancellationToken.IsCancellationRequested)
            {
                onProblem?.Invoke(e.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <inheritdoc />
    public void Dispose() => _etcd.Dispose();

    private ClusterSnapshot Snapshot(IReadOnlyList<(string Key, EtcdClient.Entry Entry)> entries)
    {
        ClusterMap? map = null;
        long mapRevision = 0, mapCreated = 0;
        var leaders = new Dictionary<string, (System.Net.IPEndPoint, ulong)>(StringComparer.Ordinal);
        string pairs = $"{Prefix}pairs/";
        foreach ((string key, EtcdClient.Entry entry) in entries)
        {
            if (key == MapKey && entry.Value is not null)
            {
                map = ClusterMapRecord.Decode(Cluster, entry.Value);
                mapRevision = entry.ModRevision;
                mapCreated = entry.CreateRevision;
            }
            else if (key.StartsWith(pairs, StringComparison.Ordinal) && key.EndsWith("/leader", StringComparison.Ordinal)
                && LeaderRecord.Decode(entry.Value, entry.Lease) is { } leader)
            {
                leaders[key[pairs.Length..^"/leader".Length]] = (leader.EndPoint, leader.Epoch);
            }
        }

        return new ClusterSnapshot(map, mapRevision, leaders) { MapCreateRevision = mapCreated };
    }

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
