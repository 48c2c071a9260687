using System.Net;
using MirrorKv.Protocol;

namespace MirrorKv.Adapter;

/// <summary>
/// What a watcher of a cluster's prefix knows: the map (decoded once per change of the map key) and each pair's
/// leader, built from one read of the prefix and then kept current by the watch's changes alone. Other keys under the
/// prefix (a pair's epoch and in-sync keys) change nothing a snapshot holds, so they cause no snapshot.
/// </summary>
internal sealed class ClusterWatchState
{
    private readonly string _cluster;
    private readonly string _mapKey;
    private readonly string _pairs;
    private readonly Dictionary<string, (IPEndPoint EndPoint, ulong Epoch)> _leaders = new(StringComparer.Ordinal);
    private ClusterMap? _map;
    private long _mapRevision, _mapCreateRevision;

    /// <summary>The state of cluster <paramref name="cluster"/> from a read of its whole prefix.</summary>
    public ClusterWatchState(string cluster, IEnumerable<(string Key, EtcdClient.Entry Entry)> entries)
    {
        _cluster = cluster;
        string prefix = ClusterDirectory.PrefixOf(cluster);
        _mapKey = prefix + "map";
        _pairs = prefix + "pairs/";
        foreach ((string key, EtcdClient.Entry entry) in entries)
        {
            Set(key, entry);
        }
    }

    /// <summary>The map key's modification revision in the state (0: no map).</summary>
    public long MapRevision => _mapRevision;

    /// <summary>Applies a watch's batch of changes; true when the map or a pair's leader changed (a new snapshot).</summary>
    /// <exception cref="FormatException">A new map that is not valid.</exception>
    public bool Apply(IReadOnlyList<EtcdClient.Change> changes)
    {
        bool changed = false;
        foreach (EtcdClient.Change change in changes)
        {
            changed |= change.Deleted ? Delete(change.Key) : Set(change.Key, change.Entry);
        }

        return changed;
    }

    /// <summary>The map and leaders now, as one snapshot (the leaders copied: the state goes on changing).</summary>
    public ClusterSnapshot Snapshot() => new(_map, _mapRevision, new Dictionary<string, (IPEndPoint, ulong)>(_leaders, StringComparer.Ordinal)) { MapCreateRevision = _mapCreateRevision };

    private bool Set(string key, EtcdClient.Entry entry)
    {
        if (key == _mapKey)
        {
            if (entry.Value is null || entry.ModRevision < _mapRevision)
            {
                return false;
            }

            _map = ClusterMapRecord.Decode(_cluster, entry.Value);
            (_mapRevision, _mapCreateRevision) = (entry.ModRevision, entry.CreateRevision);
            return true;
        }

        if (PairOfLeaderKey(key) is not { } pair)
        {
            return false;
        }

        if (LeaderRecord.Decode(entry.Value, entry.Lease) is { } leader)
        {
            _leaders[pair] = (leader.EndPoint, leader.Epoch);
        }
        else
        {
            // Not readable as a leader: as if absent, as a read of the prefix takes it.
            _leaders.Remove(pair);
        }

        return true;
    }

    private bool Delete(string key)
    {
        if (key == _mapKey)
        {
            // Only a person deletes the map (mirrorkv never does): keep serving by the last one, as during an outage.
            return false;
        }

        return PairOfLeaderKey(key) is { } pair && _leaders.Remove(pair);
    }

    private string? PairOfLeaderKey(string key) =>
        key.StartsWith(_pairs, StringComparison.Ordinal) && key.EndsWith("/leader", StringComparison.Ordinal) && key.Length > _pairs.Length + "/leader".Length
            ? key[_pairs.Length..^"/leader".Length]
            : null;
}
