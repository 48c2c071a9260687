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
                    // A claim that names the leader already known (epoch and endpoint) changes no snapshot.
                    relevant |= kind == 0
                        || (kind == 1 && (!etcd.TryGetValue(change.Key, out EtcdClient.Entry was) || LeaderRecord.Decode(was.Value, was.Lease)?.Epoch != (ulong)epoch))
                        || (kind == 2 && etcd.ContainsKey(change.Key));
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
    public void StartFromMapAndOwnLeader_WatchAndPagedFill_InAnyInterleaving_EndAsAReadOfThePrefix()
    {
        // Steps: 0-3 etcd changes as above, 4 the watch delivers what it has queued, 5 the filler reads its next page.
        // The watcher starts as a node does: the map, then its own pair's leader key (maybe at a later revision), the
        // watch from just after the map's read, and the other pairs' keys a page of `limit` keys at a time.
        Gen.Select(Gen.Select(Gen.Int[0, 5], Gen.Int[0, 2], Gen.Int[1, 3]).Array[0, 30], Gen.Int[1, 4], Gen.Int[0, 2], Gen.Bool).Sample((steps, limit, own, gap) =>
        {
            var etcd = new SortedDictionary<string, EtcdClient.Entry>(StringComparer.Ordinal) { [Prefix + "map"] = MapEntry(1, revision: 1) };
            long revision = 1;
            ulong version = 1;
            for (int p = 0; p < Pairs.Length; p++)
            {
                Claim(etcd, Pairs[p].Id, 1, ++revision);
            }

            var state = new ClusterWatchState(Cluster);
            string ownKey = state.LeaderKeyOf(Pairs[own].Id);
            state.Fill(Read(etcd, Prefix + "map", Prefix + "map\0", 0), Prefix + "map", Prefix + "map\0", revision);
            long watchFrom = revision + 1;
            Claim(etcd, Pairs[own].Id, 2, ++revision); // between the two reads of the start
            state.Fill(Read(etcd, ownKey, ownKey + "\0", 0), ownKey, ownKey + "\0", revision);
            Assert.Equal(2UL, state.Snapshot().Leaders[Pairs[own].Id].Epoch);

            // What the watch has queued since watchFrom (a gap: a watch that ended and lost its events, as when etcd
            // compacted; the node then starts again keeping its state, and the fill must still end right).
            var queued = new List<EtcdClient.Change> { new($"{Prefix}pairs/{Pairs[own].Id}/leader", etcd[ownKey], false) };
            string from = state.PairsKey, end = state.PairsKey[..^1] + "0";
            bool filled = false;
            void Page()
            {
                var page = Read(etcd, from, end, limit + 1);
                bool more = page.Count > limit;
                page = [.. page.Take(limit)];
                string to = more ? page[^1].Key + "\0" : end;
                state.Fill(page, from, to, revision);
                (from, filled) = more ? (to, false) : (state.PairsKey, true);
            }

            foreach ((int kind, int pair, int epoch) in steps)
            {
                if (kind == 4)
                {
                    if (!gap)
                    {
                        state.Apply(queued);
                    }

                    queued.Clear();
                    continue;
                }

                if (kind == 5)
                {
                    Page();
                    continue;
                }

                revision++;
                string keys = $"{Prefix}pairs/{Pairs[pair].Id}/";
                EtcdClient.Change change = kind switch
                {
                    0 => new(Prefix + "map", MapEntry(++version, revision), false),
                    1 => new(keys + "leader", LeaderEntry(epoch, revision), false),
                    2 => new(keys + "leader", new EtcdClient.Entry(null, 0, 0, revision), true),
                    _ => new(keys + (epoch % 2 == 0 ? "epoch" : "in-sync"), new EtcdClient.Entry([(byte)'1'], 0, revision, revision), false),
                };
                if (change.Deleted)
                {
                    etcd.Remove(change.Key);
                }
                else
                {
                    etcd[change.Key] = change.Entry;
                }

                queued.Add(change);
            }

            // The rest: the watch delivers, the fill reads its remaining pages; after a gap, the start again (map and
            // own key) and a whole new fill, as WatchAsync does, over the state it kept.
            if (gap)
            {
                state.Fill(Read(etcd, Prefix + "map", Prefix + "map\0", 0), Prefix + "map", Prefix + "map\0", revision);
                state.Fill(Read(etcd, ownKey, ownKey + "\0", 0), ownKey, ownKey + "\0", revision);
                (from, filled) = (state.PairsKey, false);
            }
            else
            {
                state.Apply(queued);
            }

            do
            {
                Page();
            }
            while (!filled);

            ClusterSnapshot fresh = new ClusterWatchState(Cluster, etcd.Select(e => (e.Key, e.Value))).Snapshot();
            ClusterSnapshot kept = state.Snapshot();
            Assert.Equal(fresh.Map!.Version, kept.Map!.Version);
            Assert.Equal(fresh.Leaders.OrderBy(l => l.Key), kept.Leaders.OrderBy(l => l.Key));
        }, iter: 500);
    }

    [Fact]
    public void Fill_NeverTakesALeaderBackToAnOlderState()
    {
        // The watch gave epoch 3 at revision 10, then the key's deletion at 12; a page read at revision 9 (older) or
        // one that still holds the epoch-3 entry (read at 11) changes nothing.
        var state = new ClusterWatchState(Cluster);
        string key = state.LeaderKeyOf("p1");
        Assert.True(state.Apply([new EtcdClient.Change(key, LeaderEntry(3, 10), false)]));
        Assert.False(state.Fill([(key, LeaderEntry(2, 9))], state.PairsKey, state.PairsKey[..^1] + "0", 9));
        Assert.Equal(3UL, state.Snapshot().Leaders["p1"].Epoch);
        Assert.True(state.Apply([new EtcdClient.Change(key, new EtcdClient.Entry(null, 0, 0, 12), true)]));
        Assert.False(state.Fill([(key, LeaderEntry(3, 10))], state.PairsKey, state.PairsKey[..^1] + "0", 11));
        Assert.Empty(state.Snapshot().Leaders);

        // A page that covers the key but lacks it, read after everything the state knows: the leader is gone.
        Assert.True(state.Fill([(key, LeaderEntry(4, 13))], key, key + "\0", 13));
        Assert.True(state.Fill([], state.PairsKey, state.PairsKey[..^1] + "0", 14));
        Assert.Empty(state.Snapshot().Leaders);
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

    private static void Claim(IDictionary<string, EtcdClient.Entry> etcd, string pair, int epoch, long revision) =>
        etcd[$"{Prefix}pairs/{pair}/leader"] = LeaderEntry(epoch, revision);

    private static EtcdClient.Entry LeaderEntry(int epoch, long revision) =>
        new(new LeaderRecord((ulong)epoch, new IPEndPoint(IPAddress.Loopback, 9000 + epoch), 42).Encode(), 42, revision, revision);

    // A range read of the model: keys from `from` up to `to`, at most `limit` (0: all).
    private static List<(string Key, EtcdClient.Entry Entry)> Read(SortedDictionary<string, EtcdClient.Entry> etcd, string from, string to, int limit)
    {
        var found = etcd.Where(e => string.CompareOrdinal(e.Key, from) >= 0 && string.CompareOrdinal(e.Key, to) < 0).Select(e => (e.Key, e.Value));
        return [.. limit > 0 ? found.Take(limit) : found];
    }

    private static EtcdClient.Entry MapEntry(ulong version, long revision) =>
        new(ClusterMapRecord.Encode(ClusterMap.SplitEvenly(Cluster, version, Pairs)), 0, 1, revision);
}
