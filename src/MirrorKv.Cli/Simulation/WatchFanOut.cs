using System.Diagnostics;
using MirrorKv.Adapter;
using MirrorKv.Protocol;

namespace MirrorKv.Cli.Simulation;

/// <summary>
/// The nodes' side of the cluster map, many times over: one <see cref="ClusterDirectory.WatchAsync"/> per node (each
/// with its own directory, so its own connections to etcd, and the 10 s refresh and request timeout a node's
/// <c>ClusterGate</c> gives it), two per pair. The publisher writes map changes one at a time (a rebalance's maps, by
/// compare-and-swap) and, per change, waits until every watcher has read it; then one pair fails over as etcd sees it.
/// Measures how long each watcher took to see each change, and what etcd served for it.
/// </summary>
internal sealed class WatchFanOut(EtcdProbe etcd, ClusterMap first, SimPairs pairs, TextWriter log)
{
    // As ClusterGate: a read at least every 10 s, and a node's request timeout (CoordinatorOptions.RequestTimeout * 2).
    private static readonly TimeSpan Refresh = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan RequestTimeout = new CoordinatorOptions { EndPoints = [new Uri("http://127.0.0.1:2379")] }.RequestTimeout * 2;

    /// <summary>Watchers started per second; 0: all at once.</summary>
    public int StartRate { get; init; }

    /// <summary>Whether the watchers fill in every pair's leader, as nodes that serve RESP do.</summary>
    public bool FillLeaders { get; init; } = true;

    /// <summary>How long one change may take to reach every watcher before the run gives up on it.</summary>
    public TimeSpan ChangeLimit { get; init; } = TimeSpan.FromMinutes(5);

    public async Task<WatchFigures> RunAsync(int watcherCount, int changes, CancellationToken cancellationToken)
    {
        // The failover is of pair 2 (p2), or of the only pair.
        int failing = Math.Min(1, first.Pairs.Count - 1);
        string failingId = first.Pairs[failing].Id;
        ulong lastVersion = first.Version + (ulong)changes;
        var watchers = new Watcher[watcherCount];
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var tasks = new Task[watcherCount];
        long started = Stopwatch.GetTimestamp();
        for (int i = 0; i < watcherCount; i++)
        {
            if (StartRate > 0 && i > 0)
            {
                // A rolling start: watcher i starts i / rate seconds in.
                TimeSpan due = TimeSpan.FromSeconds((double)i / StartRate) - Stopwatch.GetElapsedTime(started);
                if (due > TimeSpan.Zero)
                {
                    await Task.Delay(due, cancellationToken);
                }
            }

            // Two watchers per pair, each a node of its pair: a node reads its own pair's leader key as it starts.
            watchers[i] = new Watcher(new ClusterDirectory([etcd.Url], first.Name, RequestTimeout), (int)lastVersion, failingId);
            tasks[i] = watchers[i].Directory.WatchAsync(watchers[i].OnChange, watchers[i].OnProblem, Refresh, stopping.Token, first.Pairs[i / 2 % first.Pairs.Count].Id, FillLeaders);
        }

        try
        {
            int missing = await UntilAllAsync(watchers, w => w.SeenAt(first.Version), cancellationToken);
            double setup = Stopwatch.GetElapsedTime(started).TotalSeconds;
            log.WriteLine($"  {watcherCount} watchers{(StartRate > 0 ? $" (started {StartRate} a second)" : "")} read map version {first.Version} in {setup:F1} s{(missing > 0 ? $"; {missing} did not" : "")}");
            // The publisher (an operator's tool) waits for etcd as long as it takes: the watchers' reads may swamp it.
            using var directory = new ClusterDirectory([etcd.Url], first.Name, TimeSpan.FromSeconds(120));
            double filled = setup;
            if (FillLeaders && missing < watcherCount)
            {
                // Then each fills in the other pairs' leaders a page at a time: the failover below needs them all. As
                // many as etcd holds: a pair whose lease lapsed in the lease measurement before has none.
                int leaders = (await directory.ReadAsync(cancellationToken)).Leaders.Count;
                int unfilled = await UntilAllAsync(watchers, w => w.LeadersFilledAt(leaders), cancellationToken);
                filled = Stopwatch.GetElapsedTime(started).TotalSeconds;
                log.WriteLine($"  {watcherCount - unfilled} watchers had every pair's leader in {filled:F1} s{(unfilled > 0 ? $"; {unfilled} did not" : "")}");
            }

            if (missing == watcherCount)
            {
                // Not one read got through (each gives up after the node's timeout and tries again, and etcd drowns in
                // them): there is nothing to time, and an operator's read may not get through either.
                log.WriteLine("  no watcher ever read the map: no change published");
                return new WatchFigures(watcherCount, 0, setup, 0, 0, 0, 0, 0, 0, 0, 0, watchers.Sum(w => w.Problems), first.Version, 0, missing, 0, 0, 0) { LeadersFilledSeconds = filled };
            }

            var samples = new List<double>();
            var allSeen = new List<double>();
            long reads = 0;
            double ranges = 0, bytes = 0;
            int unconverged = missing;
            for (int step = 0; step < changes; step++)
            {
                (long r0, double ranges0, double bytes0) = await CountersAsync(watchers, cancellationToken);
                ClusterSnapshot current = await directory.ReadAsync(cancellationToken);
                ClusterMap next = SimMap.Step(current.Map!, current.Map!.Version + 1, step);
                long t0 = Stopwatch.GetTimestamp();
                if (!await directory.TryPublishAsync(next, current, cancellationToken))
                {
                    throw new InvalidOperationException($"map version {next.Version} lost its compare-and-swap: something else writes cluster {first.Name}'s map");
                }

                unconverged += await UntilAllAsync(watchers, w => w.SeenAt(next.Version), cancellationToken);
                double[] ms = [.. watchers.Select(w => w.SeenAt(next.Version)).Where(t => t != 0).Select(t => Stopwatch.GetElapsedTime(t0, t).TotalMilliseconds)];
                samples.AddRange(ms);
                allSeen.Add(ms.Length == 0 ? 0 : ms.Max());
                (long r1, double ranges1, double bytes1) = await CountersAsync(watchers, cancellationToken);
                (reads, ranges, bytes) = (reads + r1 - r0, ranges + ranges1 - ranges0 - 1, bytes + bytes1 - bytes0); // less the publisher's read
                log.WriteLine($"  map version {next.Version}: every watcher had it after {allSeen[^1]:F0} ms ({r1 - r0} watcher updates, {ranges1 - ranges0 - 1:F0} range reads)");
            }

            // A failover of one pair: its leader key goes (lease ended), then its secondary claims the lead.
            (long f0, double fr0, _) = await CountersAsync(watchers, cancellationToken);
            ulong epoch = await pairs.LoseLeaderAsync(failing, cancellationToken);
            // A watcher that fills in no leaders never knew this one (unless it is of the pair): only the claim is timed.
            unconverged += FillLeaders ? await UntilAllAsync(watchers, w => w.LeaderSeenAt(0), cancellationToken) : 0;
            long claimed = Stopwatch.GetTimestamp();
            ulong next2 = await pairs.ClaimNextAsync(failing, cancellationToken);
            unconverged += await UntilAllAsync(watchers, w => w.LeaderSeenAt(next2), cancellationToken);
            double failoverSeen = watchers.Select(w => w.LeaderSeenAt(next2)).Where(t => t != 0).Select(t => Stopwatch.GetElapsedTime(claimed, t).TotalMilliseconds).DefaultIfEmpty().Max();
            (long f1, double fr1, _) = await CountersAsync(watchers, cancellationToken);
            log.WriteLine($"  failover of {failingId} (epoch {epoch} -> {next2}): every watcher had it after {failoverSeen:F0} ms ({f1 - f0} watcher updates, {fr1 - fr0:F0} range reads)");

            return new WatchFigures(
                watcherCount, changes, setup,
                Percentiles.Of(samples, 0.50), Percentiles.Of(samples, 0.99), Percentiles.Of(samples, 1),
                Percentiles.Of(allSeen, 0.50), Percentiles.Of(allSeen, 1),
                (double)reads / changes, ranges / changes, bytes / changes,
                watchers.Sum(w => w.Problems), lastVersion, watchers.Count(w => w.LastVersion == lastVersion), unconverged,
                f1 - f0, fr1 - fr0, failoverSeen) { LeadersFilledSeconds = filled };
        }
        finally
        {
            await stopping.CancelAsync();
            await Task.WhenAll(tasks).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            foreach (Watcher watcher in watchers)
            {
                watcher?.Directory.Dispose();
            }
        }
    }

    // Waits until every watcher has a timestamp by `seen`, up to ChangeLimit; returns how many had none by then.
    private async Task<int> UntilAllAsync(Watcher[] watchers, Func<Watcher, long> seen, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        while (true)
        {
            int missing = watchers.Count(w => seen(w) == 0);
            if (missing == 0 || Stopwatch.GetElapsedTime(started) > ChangeLimit)
            {
                return missing;
            }

            await Task.Delay(5, cancellationToken);
        }
    }

    private async Task<(long Updates, double Ranges, double Bytes)> CountersAsync(Watcher[] watchers, CancellationToken cancellationToken) =>
        (watchers.Sum(w => w.Updates),
            await etcd.MetricAsync("grpc_server_handled_total", cancellationToken, "grpc_method=\"Range\"", "grpc_code=\"OK\""),
            await etcd.MetricAsync("etcd_network_client_grpc_sent_bytes_total", cancellationToken));

    /// <summary>One node's watch: when it first saw each map version, and each state of the failing pair's leader.</summary>
    private sealed class Watcher(ClusterDirectory directory, int lastVersion, string failingPair)
    {
        private readonly long[] _mapSeenAt = new long[lastVersion + 1];
        private readonly long[] _epochSeenAt = new long[4];
        private long _updates, _problems, _lastVersion, _leaders, _leadersChangedAt;
        private bool _sawLeader;

        public ClusterDirectory Directory => directory;

        public long Updates => Interlocked.Read(ref _updates);

        public long Problems => Interlocked.Read(ref _problems);

        public ulong LastVersion => (ulong)Interlocked.Read(ref _lastVersion);

        public long SeenAt(ulong version) => Volatile.Read(ref _mapSeenAt[version]);

        // When the watcher came to know `count` leaders (0: it knows fewer).
        public long LeadersFilledAt(int count) => Interlocked.Read(ref _leaders) >= count ? Interlocked.Read(ref _leadersChangedAt) : 0;

        // Epoch 0: the pair had no leader key.
        public long LeaderSeenAt(ulong epoch) => Volatile.Read(ref _epochSeenAt[epoch]);

        // On the watch's loop, for each snapshot (a read of the prefix, or a watch event that changed the map or a leader).
        public void OnChange(ClusterSnapshot snapshot)
        {
            long now = Stopwatch.GetTimestamp();
            Interlocked.Increment(ref _updates);
            ulong version = Math.Min(snapshot.Map?.Version ?? 0, (ulong)(_mapSeenAt.Length - 1));
            Interlocked.Exchange(ref _lastVersion, (long)version);
            for (ulong v = version; v > 0 && _mapSeenAt[v] == 0; v--)
            {
                Volatile.Write(ref _mapSeenAt[v], now);
            }

            if (snapshot.Leaders.Count != _leaders)
            {
                Interlocked.Exchange(ref _leadersChangedAt, now);
                Interlocked.Exchange(ref _leaders, snapshot.Leaders.Count);
            }

            // A leader not known yet is not a leader gone: epoch 0 counts only once the first leader was seen.
            ulong epoch = snapshot.Leaders.TryGetValue(failingPair, out (System.Net.IPEndPoint, ulong Epoch) leader) ? leader.Epoch : 0;
            if (epoch == 0 && !_sawLeader)
            {
                return;
            }

            _sawLeader |= epoch != 0;

            if (epoch < (ulong)_epochSeenAt.Length && _epochSeenAt[epoch] == 0)
            {
                Volatile.Write(ref _epochSeenAt[epoch], now);
            }
        }

        public void OnProblem(string problem) => Interlocked.Increment(ref _problems);
    }
}
