using System.Net;
using CsCheck;
using MirrorKv.Protocol;

namespace MirrorKv.Adapter.Tests.Cluster;

/// <summary>
/// A watcher of a cluster's prefix keeps its state from the watch's changes alone: after any sequence of changes its
/// snapshot is the one a fresh read of the prefix gives, and only a change of the map or of a pair's leader makes one.
/// </summary>
public class ClusterWatchStateTests
{
    private const string Cluster = "c";
    private static readonly string Prefix = ClusterDirectory.PrefixOf(Cluster);
    private static readonly ClusterPair[] Pairs = [.. new[] { "p1", "p2", "p3" }.Select((id, i) => new ClusterPair(id, [new ClusterMember(new IPEndPoint(IPAddress.Loopback, 7000 + i))]))];

    [Fact]
    public void Changes_AppliedOneBatchAtATime_GiveWhatAReadOfThePrefixGives()
    {
        // Each step: 0 a new map, 1 a pair's leader claimed, 2 a leader key gone, 3 a pair's epoch or in-sync key written.
        Gen.Select(Gen.Int[0, 3], Gen.Int[0, 2], Gen.Int[1, 3]).Array[1, 12].Array[1, 8].Sample(batches =>
        {
            var etcd = new Dictionary<string, EtcdClient.Entry>(StringComparer.Ordinal) { [Prefix + "map"] = MapEntry(1, revision: 1) };
            long revision = 1;
            ulong version = 1;
            var state = new ClusterWatchState(Cluster, etcd.Select(e => (e.Key, e.Value)));
            foreach ((int Kind, int Pair, int Epoch)[] batch in batches)
            {
                var changes = new List<EtcdClient.Change>();
                bool relevant = false;
                foreach ((int kind, int pair, int epoch) in batch)
                {
                    revision++;
                    string keys = $"{Prefix}pairs/{Pairs[pair].Id}/";
                    EtcdClient.Change change = kind switch
                    {
                        0 => new(Prefix + "map", MapEntry(++version, revision), false),
                        1 => new(keys + "leader", new EtcdClient.Entry(new LeaderRecord((ulong)epoch, new IPEndPoint(IPAddress.Loopback, 9000 + epoch), 42).Encode(), 42, revision, revision), false),
                        2 => new(keys + "leader", new EtcdClient.Entry(null, 0, 0, revision), true),
                        _ => new(keys + (epoch % 2 == 0 ? "epoch" : "in-sync"), new EtcdClient.Entry([(byte)'1'], 0, revision, revision), false),
                    };
                    relevant |= kind is 0 or 1 || (kind == 2 && etcd.ContainsKey(change.Key));
                    if (change.Deleted)
                    {
                        etcd.Remove(change.Key);
                    }
                    else
                    {
                        etcd[change.Key] = change.Entry;
                    }

                    changes.Add(change);
                }

                Assert.Equal(relevant, state.Apply(changes));
                ClusterSnapshot fresh = new ClusterWatchState(Cluster, etcd.Select(e => (e.Key, e.Value))).Snapshot();
                ClusterSnapshot kept = state.Snapshot();
                Assert.Equal(fresh.Map!.Version, kept.Map!.Version);
                Assert.Equal(fresh.MapRevision, kept.MapRevision);
                Assert.Equal(fresh.Leaders.OrderBy(l => l.Key), kept.Leaders.OrderBy(l => l.Key));
            }
        }, iter: 200);
    }

    [Fact]
    public void Snapshot_IsNotChangedByLaterChanges()
    {
        var state = new ClusterWatchState(Cluster, [(Prefix + "map", MapEntry(1, revision: 1))]);
        ClusterSnapshot before = state.Snapshot();
        state.Apply([new EtcdClient.Change($"{Prefix}pairs/p1/leader", new EtcdClient.Entry(new LeaderRecord(3, new IPEndPoint(IPAddress.Loopback, 9003), 7).Encode(), 7, 2, 2), false)]);
        Assert.Empty(before.Leaders);
        Assert.Equal(3UL, state.Snapshot().Leaders["p1"].Epoch);
    }

    private static EtcdClient.Entry MapEntry(ulong version, long revision) =>
        new(ClusterMapRecord.Encode(ClusterMap.SplitEvenly(Cluster, version, Pairs)), 0, 1, revision);
}
