using MirrorKv.Protocol;

namespace MirrorKv.Adapter;

/// <summary>
/// A cluster's keys in etcd, all under <c>/mirrorkv/clusters/{name}/</c>: <c>map</c> (the cluster map, JSON,
/// written only by compare-and-swap on its version) and, per pair, <c>pairs/{id}/leader</c>, <c>epoch</c>
/// and <c>in-sync</c> (the pair's own coordinator keys, as a pair on its own keeps them under
/// <c>/mirrorkv/pairs/{id}/</c>: a failover inside one pair touches no other pair's keys). One read of the
/// prefix gives the map and every pair's primary (operators' tools); a node reads the map and its own pair's leader,
/// fills in the others a page at a time, and takes every later change from a watch of the prefix, value included.
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
    /// until cancelled. A start reads only what a node needs before it serves: the map, and the leader key of its own
    /// pair <paramref name="pairId"/> (its epoch decides whether it may take writes); then it watches the prefix, whose
    /// events carry the new values, and fills in the other pairs' leaders (the Moved hints and the RESP cluster
    /// answers) in the background, <see cref="LeaderPageKeys"/> keys per read, so that a cluster's start costs etcd
    /// O(pairs) small reads per node instead of one read of everything (900 KB at 1,000 pairs) that can time out and
    /// start over. Every <paramref name="refresh"/> it compares the map key's revision with etcd's (a read without the
    /// value): a newer map is read at once, and a watch that has still not brought it three checks later is taken for
    /// dead. When the watch ends or is dead it starts again, keeping what it knew; it goes on through etcd outages,
    /// serving the last state (<paramref name="onProblem"/> hears of them), asking again after 0.5 s, then twice as
    /// long each time up to 15 s, jittered. Calls of <paramref name="onChange"/> never overlap. Without
    /// <paramref name="fillLeaders"/> the other pairs' leaders are known only from the watch's changes (a node that
    /// serves no RESP port needs them only as the hint of where a client may fetch the map).
    /// </summary>
    public async Task WatchAsync(Action<ClusterSnapshot> onChange, Action<string>? onProblem, TimeSpan refresh, CancellationToken cancellationToken, string? pairId = null, bool fillLeaders = true)
    {
        ArgumentNullException.ThrowIfNull(onChange);
        TimeSpan backoff = FirstRetry;
        var state = new ClusterWatchState(Cluster);
        var gate = new object();
        long watched = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                // A small cluster's leaders fit in a page or two: read them before the first snapshot, so that a node
                // answers RESP clients' MOVED and CLUSTER SLOTS with every primary from its first moment.
                long revision = await ReadStartAsync(state, gate, pairId, onChange, cancellationToken, emit: false).ConfigureAwait(false);
                bool small;
                lock (gate)
                {
                    small = state.PairCount <= SmallCluster;
                }

                if (fillLeaders && small)
                {
                    await FillLeadersAsync(state, gate, onChange, onProblem, cancellationToken, pause: false).ConfigureAwait(false);
                }

                lock (gate)
                {
                    onChange(state.Snapshot());
                }

                backoff = FirstRetry;
                using var watching = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                Task watch = _etcd.WatchPrefixAsync(Prefix, revision + 1, changes =>
                {
                    lock (gate)
                    {
                        foreach (EtcdClient.Change change in changes)
                        {
                            watched = Math.Max(watched, change.Entry.ModRevision);
                        }

                        if (state.Apply(changes))
                        {
                            onChange(state.Snapshot());
                        }
                    }
                }, watching.Token);
                Task fill = fillLeaders && !small ? FillLeadersAsync(state, gate, onChange, onProblem, watching.Token, pause: true) : Task.CompletedTask;
                try
                {
                    await UntilEndedOrDeadAsync(watch, state, gate, () => Volatile.Read(ref watched), pairId, onChange, onProblem, refresh, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    // Read again and watch from there.
                    await watching.CancelAsync().ConfigureAwait(false);
                    await Task.WhenAll(watch, fill).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }

                if (watch.IsFaulted)
                {
                    await watch.ConfigureAwait(false);
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

    // Up to this many pairs (two pages of their keys) a node reads every leader before its first snapshot.
    private const int SmallCluster = 128;

    // Checks (of `refresh` each) a watch may lag behind a map read without it before it is taken for dead.
    private const int DeadAfterChecks = 3;

    /// <summary>Keys per read of the pairs' keys while a watcher fills in the leaders (three keys per pair).</summary>
    public const int LeaderPageKeys = 192;

    // Reads the pairs' keys a page at a time and takes the leaders from them. With `pause`, it starts after a pause
    // drawn up to 50 ms per pair in the map (a cluster's nodes start together, and the map reads they serve by come
    // first: at 1,000 pairs a fill at once tripled the time until every node had its map), and pauses 50 to 100 ms
    // between pages. A page that fails is asked again after the same backoff as the watch; a page's keys are taken
    // under the watch's lock, newer changes kept.
    private async Task FillLeadersAsync(ClusterWatchState state, object gate, Action<ClusterSnapshot> onChange, Action<string>? onProblem, CancellationToken cancellationToken, bool pause)
    {
        string from = state.PairsKey;
        string end = EtcdClient.PrefixEnd(state.PairsKey);
        TimeSpan backoff = FirstRetry;
        int pairs;
        lock (gate)
        {
            pairs = state.PairCount;
        }

        if (pause)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * 50 * pairs), cancellationToken).ConfigureAwait(false);
        }

        while (true)
        {
            if (pause)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50 + Random.Shared.Next(50)), cancellationToken).ConfigureAwait(false);
            }

            try
            {
                (IReadOnlyList<(string Key, EtcdClient.Entry Entry)> entries, long revision, bool more) = await _etcd.RangeAsync(from, end, LeaderPageKeys, cancellationToken).ConfigureAwait(false);
                backoff = FirstRetry;
                string to = more && entries.Count > 0 ? entries[^1].Key + "\0" : end;
                lock (gate)
                {
                    if (state.Fill(entries, from, to, revision))
                    {
                        onChange(state.Snapshot());
                    }
                }

                if (!more || entries.Count == 0)
                {
                    return;
                }

                from = to;
            }
            catch (Exception e) when (e is EtcdException or FormatException or HttpRequestException or IOException or System.Text.Json.JsonException && !cancellationToken.IsCancellationRequested)
            {
                onProblem?.Invoke(e.Message);
                await Task.Delay(backoff * (0.5 + (Random.Shared.NextDouble() / 2)), cancellationToken).ConfigureAwait(false);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, LastRetry.Ticks));
            }
        }
    }

    // What a node reads before it serves, and again whenever it finds the map behind etcd's: the map key, then its own
    // pair's leader key, taken into the state (newer changes kept) and given to onChange. Returns the map read's revision.
    private async Task<long> ReadStartAsync(ClusterWatchState state, object gate, string? pairId, Action<ClusterSnapshot> onChange, CancellationToken cancellationToken, bool emit = true)
    {
        (IReadOnlyList<(string Key, EtcdClient.Entry Entry)> map, long revision, _) = await _etcd.RangeAsync(MapKey, null, 0, cancellationToken).ConfigureAwait(false);
        IReadOnlyList<(string Key, EtcdClient.Entry Entry)> own = [];
        long ownRevision = revision;
        string ownKey = state.LeaderKeyOf(pairId ?? "");
        if (pairId is not null)
        {
            (own, ownRevision, _) = await _etcd.RangeAsync(ownKey, null, 0, cancellationToken).ConfigureAwait(false);
        }

        lock (gate)
        {
            state.Fill(map, MapKey, MapKey + "\0", revision);
            if (pairId is not null)
            {
                state.Fill(own, ownKey, ownKey + "\0", ownRevision);
            }

            if (emit)
            {
                onChange(state.Snapshot());
            }
        }

        return revision;
    }

    // Returns when the watch ends, or when it is taken for dead: every refresh, the map key's revision in etcd (read
    // without the value) is compared with the state's. A map the watch has not brought yet is read at once (with the
    // node's own leader key), keeping the watch: on a busy etcd the event may just be slow (a 180 KB map at 1,000
    // pairs, to every node, took up to 25 s on two shared cores), and starting over would read the other pairs'
    // leaders again besides, which slows etcd further (restarting at the very next check, a 1,000-pair simulation saw
    // 59,452 range reads in one failover's window, and 1,994 of 2,000 watchers missed a leader's loss). Only when
    // DeadAfterChecks more checks find that the watch still brought nothing as new is it given up and everything read
    // again. A check that fails is reported and the watch kept: an etcd too busy to answer in time is no reason to ask
    // it for more.
    private async Task UntilEndedOrDeadAsync(Task watch, ClusterWatchState state, object gate, Func<long> watched, string? pairId, Action<ClusterSnapshot> onChange, Action<string>? onProblem, TimeSpan refresh, CancellationToken cancellationToken)
    {
        long awaited = 0;
        int checksSince = 0;
        while (await Task.WhenAny(watch, Task.Delay(refresh, cancellationToken)).ConfigureAwait(false) != watch)
        {
            if (awaited > 0 && watched() < awaited)
            {
                if (++checksSince >= DeadAfterChecks)
                {
                    return;
                }

                continue;
            }

            (awaited, checksSince) = (0, 0);
            try
            {
                long inEtcd = await _etcd.ModRevisionAsync(MapKey, cancellationToken).ConfigureAwait(false);
                long known;
                lock (gate)
                {
                    known = state.MapRevision;
                }

                if (inEtcd > known)
                {
                    await ReadStartAsync(state, gate, pairId, onChange, cancellationToken).ConfigureAwait(false);
                    awaited = inEtcd;
                }
            }
            catch (Exception e) when (e is EtcdException or FormatException or HttpRequestException or IOException or System.Text.Json.JsonException && !cancellationToken.IsCancellationRequested)
            {
                onProblem?.Invoke(e.Message);
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
