using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using MirrorKv.Adapter;
using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// A real three-pair cluster over a real etcd: keys spread over every pair and read back one-sided, a node
/// refusing another pair's key with the owner named, a client with a stale map following the redirection, and
/// a primary killed in one pair while all pairs take writes: that pair fails over, the others never notice, and
/// no acknowledged write is lost.
/// </summary>
[Collection(nameof(ProcessTests))]
public class ClusterProcessTests
{
    [Fact]
    public async Task KeysSpreadOverAllPairs_AreWrittenAndReadBack_OneSidedAndInBatches()
    {
        await using ProcessCluster cluster = await ProcessCluster.StartAsync();
        await using MirrorKvClusterClient client = await MirrorKvClusterClient.ConnectAsync(cluster.ClientOptions());
        Assert.True(client.IsCluster);
        Assert.Equal((1UL, 3), (client.Map!.Version, client.Map.Pairs.Count));

        string[] keys = [.. Enumerable.Range(0, 300).Select(i => $"user:{i}")];
        foreach (string key in keys)
        {
            await client.SetAsync(key, Encoding.UTF8.GetBytes($"v-{key}"));
        }

        // Every pair holds exactly its keys, on both of its nodes.
        foreach ((string id, NodeProcess primary, NodeProcess secondary) in cluster.Pairs)
        {
            int expected = keys.Count(k => client.Map.Owner(HashSlot.Of(k)).Id == id);
            Assert.InRange(expected, 60, 140);
            Assert.Equal((ulong)expected, (await MirrorKvAdmin.GetStatusAsync(primary.EndPoint)).Entries);
            await Waits.UntilAsync(async () => (await MirrorKvAdmin.GetStatusAsync(secondary.EndPoint)).Entries == (ulong)expected, $"pair {id}'s secondary to hold its {expected} keys");
        }

        // Read back one-sided: the pointers the writes returned, no LOOKUP.
        foreach (string key in keys)
        {
            Assert.Equal($"v-{key}", Encoding.UTF8.GetString((await client.GetAsync(key))!));
        }

        foreach ((string id, _, _) in cluster.Pairs)
        {
            ClientStats stats = client.PairClient(id)!.Stats;
            Assert.True(stats.Reads > 0 && stats.Lookups == 0, $"pair {id}: {stats}");
        }

        // Batches split by owner, results in the caller's order, a missing key as null.
        string[] batch = [.. keys.Reverse().Take(100), "absent-key"];
        byte[]?[] values = await client.GetManyAsync(batch);
        Assert.Equal(batch.Select(k => k == "absent-key" ? null : $"v-{k}"), values.Select(v => v is null ? null : Encoding.UTF8.GetString(v)));
        await client.SetManyAsync(batch, [.. batch.Select(k => (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes($"w-{k}"))]);

        // A fresh client (no cached pointer: LOOKUP at each owner) reads what the batch wrote.
        await using MirrorKvClusterClient fresh = await MirrorKvClusterClient.ConnectAsync(cluster.ClientOptions(cluster.Pairs[2].Secondary));
        Assert.Equal(batch.Select(k => $"w-{k}"), (await fresh.GetManyAsync(batch)).Select(v => Encoding.UTF8.GetString(v!)));
        Assert.Equal(0, client.Redirects + fresh.Redirects);
        Assert.True(await fresh.DeleteAsync(batch[0]));
        Assert.Null(await client.GetAsync(batch[0]));
    }

    [Fact]
    public async Task NodeGivenAKeyOfAnotherPairsSlot_AnswersMoved_NamingTheOwnerAndTheMapVersion()
    {
        await using ProcessCluster cluster = await ProcessCluster.StartAsync();
        (string _, NodeProcess p1, NodeProcess p1Secondary) = cluster.Pairs[0];
        NodeProcess p2 = cluster.Pairs[1].Primary;

        // A plain pair client of p1: it cannot follow a redirection, and sees it as an error naming the owner.
        await using MirrorKvClient pairClient = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [p1.EndPoint, p1Secondary.EndPoint] });
        string foreign = cluster.KeyOf("p2", 0);
        var expected = new Redirect(HashSlot.Of(foreign), p2.EndPoint, "p2", 1);
        MirrorKvException write = await Assert.ThrowsAsync<MirrorKvException>(async () => await pairClient.SetAsync(foreign, "x"u8.ToArray()));
        MirrorKvException read = await Assert.ThrowsAsync<MirrorKvException>(async () => await pairClient.GetAsync(foreign));
        MirrorKvException delete = await Assert.ThrowsAsync<MirrorKvException>(async () => await pairClient.DeleteAsync(foreign));
        foreach (MirrorKvException e in new[] { write, read, delete })
        {
            Assert.Equal(WireStatus.Moved, e.WireStatus);
            Assert.True(Redirect.TryParse(e.Message, out Redirect? redirect), e.Message);
            Assert.Equal(expected, redirect);
        }

        // Its own keys it serves; the secondary refuses a foreign LOOKUP the same way; any node serves the map.
        string own = cluster.KeyOf("p1", 0);
        await pairClient.SetAsync(own, "mine"u8.ToArray());
        Assert.Equal("mine"u8.ToArray(), await pairClient.GetAsync(own));
        Assert.Equal(0UL, (await MirrorKvAdmin.GetStatusAsync(p2.EndPoint)).Entries);
        foreach (NodeProcess node in cluster.Nodes)
        {
            ClusterMap map = (await MirrorKvAdmin.GetClusterMapAsync(node.EndPoint))!;
            Assert.Equal(1UL, map.Version);
            Assert.Equal(cluster.Map.Ranges, map.Ranges);
        }
    }

    [Fact]
    public async Task ClientWithAStaleMap_FollowsTheRedirection_ToTheNewOwner()
    {
        await using ProcessCluster cluster = await ProcessCluster.StartAsync();
        await using MirrorKvClusterClient client = await MirrorKvClusterClient.ConnectAsync(cluster.ClientOptions());
        Assert.Equal(1UL, client.Map!.Version);

        // Version 2 gives the upper half of p1's slots to p2 (an operator's change, no data moved: the keys are new).
        SlotRange[] ranges = [new(0, 2730, "p1"), new(2731, 10922, "p2"), new(10923, 16383, "p3")];
        var next = new ClusterMap(cluster.Name, 2, cluster.Map.Pairs, ranges);
        await cluster.PublishAsync(next);
        string moved = Enumerable.Range(0, 10_000).Select(i => $"m-{i}").First(k => HashSlot.Of(k) is >= 2731 and <= 5461);
        Assert.Equal("p1", client.Map.Owner(HashSlot.Of(moved)).Id);

        await client.SetAsync(moved, "new owner"u8.ToArray());
        Assert.Equal((2UL, 1L), (client.Map.Version, client.MapRefreshes));
        Assert.True(client.Redirects >= 1);
        Assert.Equal("new owner"u8.ToArray(), await client.GetAsync(moved));
        Assert.Equal(1UL, (await MirrorKvAdmin.GetStatusAsync(cluster.Pairs[1].Primary.EndPoint)).Entries);
        Assert.Equal(0UL, (await MirrorKvAdmin.GetStatusAsync(cluster.Pairs[0].Primary.EndPoint)).Entries);

        // A batch of a stale client is split again after the redirection: version 3 gives p1 its slots back, the
        // client still routes them to p2 by version 2; keys of every pair, results in the caller's order.
        await cluster.PublishAsync(new ClusterMap(cluster.Name, 3, cluster.Map.Pairs, cluster.Map.Ranges));
        string[] keys = [.. Enumerable.Range(0, 60).Select(i => $"b-{i}")];
        Assert.Contains(keys, k => HashSlot.Of(k) is >= 2731 and <= 5461);
        long redirects = client.Redirects;
        await client.SetManyAsync(keys, [.. keys.Select(k => (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(k))]);
        Assert.Equal(keys, (await client.GetManyAsync(keys)).Select(v => Encoding.UTF8.GetString(v!)));
        Assert.Equal((3UL, 2L), (client.Map.Version, client.MapRefreshes));
        Assert.True(client.Redirects > redirects);
        foreach ((string id, NodeProcess primary, _) in cluster.Pairs)
        {
            ulong owned = (ulong)keys.Count(k => cluster.Map.Owner(HashSlot.Of(k)).Id == id);
            Assert.Equal(owned + (id == "p2" ? 1UL : 0), (await MirrorKvAdmin.GetStatusAsync(primary.EndPoint)).Entries);
        }
    }

    [Fact]
    public async Task PrimaryKilledInOnePair_WhileAllPairsTakeWrites_ThatPairFailsOver_TheOthersNeverNotice_NoAcknowledgedWriteLost()
    {
        await using ProcessCluster cluster = await ProcessCluster.StartAsync();
        await using MirrorKvClusterClient client = await MirrorKvClusterClient.ConnectAsync(cluster.ClientOptions());
        using var stop = new CancellationTokenSource();
        var writers = cluster.Pairs.Select(p => new PairWriter(cluster, p.Id)).ToList();
        Task[] running = [.. writers.Select(w => w.RunAsync(client, stop.Token))];
        await Waits.UntilAsync(() => writers.All(w => w.Acknowledged > 100), "every pair's writer to get going", 30);

        (string victimId, NodeProcess victim, NodeProcess heir) = cluster.Pairs[1];
        long[] before = [.. writers.Select(w => w.Acknowledged)];
        await victim.KillAsync();
        var clock = Stopwatch.StartNew();

        // While the killed pair fails over (until its writer is acknowledged again), the others go on writing.
        await Waits.UntilAsync(() => writers[1].Acknowledged > before[1] + 20, $"pair {victimId}'s writes to go on at its promoted secondary", 30);
        long[] during = [.. writers.Select(w => w.Acknowledged)];
        await Waits.UntilAsync(() => writers.All(w => w.Acknowledged > during[writers.IndexOf(w)] + 50), "every writer to go on after the failover", 30);
        await stop.CancelAsync();
        await Task.WhenAll(running);

        NodeStatus promoted = await MirrorKvAdmin.GetStatusAsync(heir.EndPoint);
        Assert.Equal((NodeRole.Primary, 2UL), (promoted.Role, promoted.Epoch));
        foreach (int other in new[] { 0, 2 })
        {
            PairWriter w = writers[other];
            Assert.True(w.Errors.IsEmpty, $"pair {w.PairId} noticed: {string.Join("; ", w.Errors.Take(3))}");
            Assert.True(during[other] > before[other], $"pair {w.PairId}'s writes stood still while {victimId} failed over ({clock.ElapsedMilliseconds} ms)");
            Assert.True(w.LongestGap < TimeSpan.FromSeconds(1) || w.LongestGap < writers[1].LongestGap / 2, $"pair {w.PairId}'s longest gap {w.LongestGap.TotalMilliseconds:F0} ms vs {writers[1].LongestGap.TotalMilliseconds:F0} ms for {victimId}");
            NodeStatus status = await MirrorKvAdmin.GetStatusAsync(cluster.Pairs[other].Primary.EndPoint);
            Assert.Equal((NodeRole.Primary, 1UL, true), (status.Role, status.Epoch, status.Protected));
        }

        Assert.All(writers[1].Errors, e => Assert.StartsWith($"{MirrorKvError.Unavailable}:", e, StringComparison.Ordinal));

        // The audit: every key's last acknowledged value, read by a client that starts from nothing.
        await using MirrorKvClusterClient auditor = await MirrorKvClusterClient.ConnectAsync(cluster.ClientOptions(cluster.Pairs[0].Secondary));
        foreach (PairWriter w in writers)
        {
            await w.AssertAllReadableAsync(auditor);
        }
    }

    /// <summary>Updates 100 keys of one pair in turn and remembers the last acknowledged value of each.</summary>
    private sealed class PairWriter(ProcessCluster cluster, string pairId)
    {
        private readonly ConcurrentDictionary<string, string> _latest = new();
        private readonly string[] _keys = [.. Enumerable.Range(0, 100).Select(i => cluster.KeyOf(pairId, i, "w"))];
        private long _acknowledged;

        public string PairId => pairId;

        public long Acknowledged => Interlocked.Read(ref _acknowledged);

        public ConcurrentQueue<string> Errors { get; } = new();

        public TimeSpan LongestGap { get; private set; }

        public async Task RunAsync(MirrorKvClusterClient client, CancellationToken stop)
        {
            long last = Stopwatch.GetTimestamp();
            for (int i = 0; !stop.IsCancellationRequested; i++)
            {
                string key = _keys[i % _keys.Length];
                try
                {
                    await client.SetAsync(key, Encoding.UTF8.GetBytes($"{i}"));
                    _latest[key] = $"{i}";
                    Interlocked.Increment(ref _acknowledged);
                    TimeSpan gap = Stopwatch.GetElapsedTime(last);
                    LongestGap = gap > LongestGap ? gap : LongestGap;
                    last = Stopwatch.GetTimestamp();
                }
                catch (MirrorKvException e)
                {
                    // Not acknowledged: the key may hold this value or the one before, so it is not checked.
                    Errors.Enqueue($"{e.Error}: {e.Message}");
                    _latest.TryRemove(key, out _);
                }
            }
        }

        public async Task AssertAllReadableAsync(MirrorKvClusterClient client)
        {
            Assert.NotEmpty(_latest);
            foreach ((string key, string value) in _latest)
            {
                Assert.Equal(value, Encoding.UTF8.GetString((await client.GetAsync(key)) ?? []));
            }
        }
    }
}
