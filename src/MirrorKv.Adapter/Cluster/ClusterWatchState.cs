using System.Net;
using MirrorKv.Protocol;

namespace MirrorKv.Adapter;

/// <summary>
/// What a watcher of a cluster's prefix knows: the map (decoded once per change of the map key) and each pair's
/// leader, kept current by the watch's changes, and filled in by reads (of the whole prefix, or of the pairs' keys a
/// page at a time). Each pair's leader remembers the revision it was last set or deleted at, so a read that overlaps
/// the watch never takes a leader back to an older state. Other keys under the prefix (a pair's epoch and in-sync
/// keys) change nothing a snapshot holds, so they cause no snapshot. Not thread-safe: one caller at a time.
/// </summary>
internal sealed class ClusterWatchState
{
    private readonly string _cluster;
    private readonly string _mapKey;
    private readonly string _pairs;
    private readonly Dictionary<string, (IPEndPoint EndPoint, ulong Epoch)> _leaders = new(StringComparer.Ordinal);

    // Per pair: the revision of the change or read its leader was last taken from (a deletion's included).
    private readonly Dictionary<string, long> _leaderRevisions = new(StringComparer.Ordinal);
    private ClusterMap? _map;
    private long _mapRevision, _mapCreateRevision;

    /// <summary>An empty state of cluster <paramref name="cluster"/>: no map, no leaders.</summary>
    public ClusterWatchState(string cluster)
    {
        _cluster = cluster;
        string prefix = ClusterDirectory.PrefixOf(cluster);
        _mapKey = prefix + "map";
        _pairs = prefix + "pairs/";
    }

    /// <summary>The state of cluster <paramref name="cluster"/> from a read of its whole prefix.</summary>
    public ClusterWatchState(string cluster, IEnumerable<(string Key, EtcdClient.Entry Entry)> entries)
        : this(cluster)
    {
        foreach ((string key, EtcdClient.Entry entry) in entries)
        {
            Set(key, entry);
        }
    }

    /// <summary>The map key's modification revision in the state (0: no map).</summary>
    public long MapRevision => _mapRevision;

    /// <summary>Pairs in the map (0: no map yet).</summary>
    public int PairCount => _map?.Pairs.Count ?? 0;

    /// <summary>The first key of the pairs' keys, where a paged read of them starts.</summary>
    public string PairsKey => _pairs;

    /// <summary>The leader key of pair <paramref name="pairId"/>.</summary>
    public string LeaderKeyOf(string pairId) => $"{_pairs}{pairId}/leader";

    /// <summary>Applies a watch's batch of changes; true when the map or a pair's leader changed (a new snapshot).</summary>
    /// <exception cref="FormatException">A new map that is not valid.</exception>
    public bool Apply(IReadOnlyList<EtcdClient.Change> changes)
    {
        bool changed = false;
        foreach (EtcdClient.Change change in changes)
        {
            changed |= change.Deleted ? Delete(change.Key, change.Entry.ModRevision) : Set(change.Key, change.Entry);
        }

        return changed;
    }

    /// <summary>
    /// Takes what one read found: <paramref name="entries"/>, every key etcd held at <paramref name="revision"/> from
    /// <paramref name="from"/> up to (not including) <paramref name="to"/>. A leader key in it is taken unless the state
    /// already has a change of that key at least as new; a known leader whose key lies in the range but is missing from
    /// the read was deleted by then (when the state knows of nothing newer). True when a snapshot would differ.
    /// </summary>
    /// <exception cref="FormatException">A new map that is not valid.</exception>
    public bool Fill(IReadOnlyList<(string Key, EtcdClient.Entry Entry)> entries, string from, string to, long revision)
    {
        bool changed = false;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach ((string key, EtcdClient.Entry entry) in entries)
        {
            if (PairOfLeaderKey(key) is { } pair)
            {
                seen.Add(pair);
            }

            changed |= Set(key, entry);
        }

        List<string>? gone = null;
        foreach ((string pair, long known) in _leaderRevisions)
        {
            string key = LeaderKeyOf(pair);
            if (known < revision && _leaders.ContainsKey(pair) && !seen.Contains(pair)
                && string.CompareOrdinal(key, from) >= 0 && string.CompareOrdinal(key, to) < 0)
            {
                (gone ??= []).Add(pair);
            }
        }

        foreach (string pair in gone ?? [])
        {
            changed |= Delete(LeaderKeyOf(pair), revision);
        }

        return changed;
    }

    /// <summary>The map and leaders now, as one snapshot (the leaders copied: the state goes on changing).</summary>
    public ClusterSnapshot Snapshot() => new(_map, _mapRevision, new Dictionary<string, (IPEndPoint, ulong)>(_leaders, StringComparer.Ordinal)) { MapCreateRevision = _mapCreateRevision };

    private bool Set(string key, EtcdClient.Entry entry)
    {
        if (key == _mapKey)
        {
            if (entry.Value is null || entry.ModRevision <= _mapRevision)
            {
                return false;
            }

            _map = ClusterMapRecord.Decode(_cluster, entry.Value);
            (_mapRevision, _mapCreateRevision) = (entry.ModRevision, entry.CreateRevision);
            return true;
        }

        if (PairOfLeaderKey(key) is not { } pair || (_leaderRevisions.TryGetValue(pair, out long known) && known >= entry.ModRevision))
        {
            return false;
        }

        _leaderRevisions[pair] = entry.ModRevision;
        if (LeaderRecord.Decode(entry.Value, entry.Lease) is { } leader)
        {
            bool changed = !_leaders.TryGetValue(pair, out (IPEndPoint EndPoint, ulong Epoch) was) || !was.EndPoint.Equals(leader.EndPoint) || was.Epoch != leader.Epoch;
            _leaders[pair] = (leader.EndPoint, leader.Epoch);
            return changed;
        }

        // Not readable as a leader: as if absent, as a read of the prefix takes it.
        return _leaders.Remove(pair);
    }

    private bool Delete(string key, long revision)
    {
        if (key == _mapKey)
        {
            // Only a person deletes the map (mirrorkv never does): keep serving by the last one, as during an outage.
            return false;
        }

        if (PairOfLeaderKey(key) is not { } pair || (revision > 0 && _leaderRevisions.TryGetValue(pair, out long known) && known >= revision))
        {
            return false;
        }

        // A deletion without its revision (not what etcd sends) still deletes; it just cannot order later reads.
        if (revision > 0)
        {
            _leaderRevisions[pair] = revision;
        }

        return _leaders.Remove(pair);
    }

    private string? PairOfLeaderKey(string key) =>
        key.StartsWith(_pairs, StringComparison.Ordinal) && key.EndsWith("/leader", StringComparison.Ordinal) && key.Length > _pairs.Length + "/leader".Length
            ? key[_pairs.Length..^"/leader".Length]
            : null;
}
