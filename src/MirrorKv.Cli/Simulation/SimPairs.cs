using System.Diagnostics;
using MirrorKv.Adapter;
using MirrorKv.Protocol;

namespace MirrorKv.Cli.Simulation;

/// <summary>
/// The etcd side of a cluster's pairs without their nodes: each pair's leader key (on a lease of the coordinator's
/// 2 s TTL), epoch and in-sync keys under the cluster's prefix, the primaries' lease renewals (every TTL / 4, as
/// <c>PairCoordinator</c> renews) and, when measured, the secondaries' in-sync reads (every 50 ms, the read lease's
/// renewal at the default heartbeat, as every secondary asks etcd while its peer link is down: since protocol 1.5 a
/// protected pair renews over the link and asks etcd nothing). What a cluster of that many pairs asks of etcd while
/// nothing changes, and while every link is down at once.
/// </summary>
internal sealed class SimPairs : IAsyncDisposable
{
    /// <summary>The coordinator's lease TTL (<c>CoordinatorOptions.LeaseTtl</c>) and its renewal interval, TTL / 4.</summary>
    public static readonly TimeSpan LeaseTtl = new CoordinatorOptions { EndPoints = [new Uri("http://127.0.0.1:2379")] }.LeaseTtl;

    /// <summary>A secondary's in-sync check interval at the default heartbeat (<c>NodeOptions.InSyncReadCheck</c>).</summary>
    public static readonly TimeSpan InSyncCheck = new NodeOptions().InSyncReadCheck;

    private readonly EtcdProbe _etcd;
    private readonly ClusterMap _map;
    private readonly string _prefix;
    private readonly long[] _leases;
    private readonly ulong[] _epochs;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _renewers = [];
    private long _renewals, _renewalsFailed, _inSyncReads;
    private List<double> _renewalMs = [];

    private SimPairs(EtcdProbe etcd, ClusterMap map)
    {
        (_etcd, _map, _prefix) = (etcd, map, ClusterDirectory.PrefixOf(map.Name));
        _leases = new long[map.Pairs.Count];
        _epochs = new ulong[map.Pairs.Count];
    }

    /// <summary>Writes every pair's keys at epoch 1 (member 0 primary, both in sync) and starts renewing the leases.</summary>
    public static async Task<SimPairs> StartAsync(EtcdProbe etcd, ClusterMap map, CancellationToken cancellationToken)
    {
        var pairs = new SimPairs(etcd, map);
        // Each renewer starts with its claim: a thousand claims take longer than a lease lasts.
        await Parallel.ForAsync(0, map.Pairs.Count, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken }, async (i, ct) =>
        {
            await pairs.ClaimAsync(i, 1, ct);
            lock (pairs._renewers)
            {
                pairs._renewers.Add(Task.Run(() => pairs.RenewAsync(i, pairs._stopping.Token), CancellationToken.None));
            }
        });

        return pairs;
    }

    /// <summary>
    /// Counts for <paramref name="duration"/> what the renewers (and, with <paramref name="inSyncReads"/>, the
    /// secondaries' in-sync reads) got done, and what etcd committed through raft meanwhile.
    /// </summary>
    public async Task<LeaseFigures> MeasureAsync(TimeSpan duration, bool inSyncReads, CancellationToken cancellationToken)
    {
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task[] readers = inSyncReads
            ? [.. Enumerable.Range(0, _map.Pairs.Count).Select(i => Task.Run(() => ReadInSyncAsync(i, reading.Token), CancellationToken.None))]
            : [];
        await Task.Delay(LeaseTtl, cancellationToken); // the readers' first round settles
        double proposals = await _etcd.MetricAsync("etcd_server_proposals_committed_total", cancellationToken);
        double ranges = await _etcd.MetricAsync("grpc_server_handled_total", cancellationToken, "grpc_method=\"Range\"");
        long renewals = Interlocked.Read(ref _renewals), failed = Interlocked.Read(ref _renewalsFailed), reads = Interlocked.Read(ref _inSyncReads);
        List<double> latencies = Interlocked.Exchange(ref _renewalMs, []);
        var clock = Stopwatch.StartNew();
        await Task.Delay(duration, cancellationToken);
        double seconds = clock.Elapsed.TotalSeconds;
        latencies = Interlocked.Exchange(ref _renewalMs, []);
        var figures = new LeaseFigures(
            _map.Pairs.Count,
            (Interlocked.Read(ref _renewals) - renewals) / seconds,
            _map.Pairs.Count / (LeaseTtl / 4).TotalSeconds,
            (Interlocked.Read(ref _renewalsFailed) - failed) / seconds,
            Percentiles.Of(latencies, 0.50),
            Percentiles.Of(latencies, 0.99),
            ((await _etcd.MetricAsync("etcd_server_proposals_committed_total", cancellationToken)) - proposals) / seconds,
            (Interlocked.Read(ref _inSyncReads) - reads) / seconds,
            inSyncReads ? _map.Pairs.Count / InSyncCheck.TotalSeconds : 0,
            ((await _etcd.MetricAsync("grpc_server_handled_total", cancellationToken, "grpc_method=\"Range\"")) - ranges) / seconds);
        await reading.CancelAsync();
        await Task.WhenAll(readers).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        return figures;
    }

    /// <summary>The epoch pair <paramref name="pair"/> is at.</summary>
    public ulong EpochOf(int pair) => Volatile.Read(ref _epochs[pair]);

    /// <summary>
    /// A failover of pair <paramref name="pair"/> as etcd sees it: the primary's lease ends (its leader key goes), then
    /// the secondary claims the lead under the next epoch (leader, epoch and in-sync keys in one transaction). Two
    /// revisions under the cluster's prefix, each an event for every watcher. Returns the new epoch.
    /// </summary>
    public async Task<ulong> LoseLeaderAsync(int pair, CancellationToken cancellationToken)
    {
        long lease = Interlocked.Exchange(ref _leases[pair], 0);
        try
        {
            await _etcd.RevokeAsync(lease, cancellationToken);
        }
        catch (InvalidOperationException e) when (e.Message.Contains("not found", StringComparison.Ordinal))
        {
            // Expired already: its renewals did not get through in time (counted as failed), and the key went with it.
        }

        return EpochOf(pair);
    }

    /// <summary>The second half of a failover (see <see cref="LoseLeaderAsync"/>): the secondary's claim.</summary>
    public async Task<ulong> ClaimNextAsync(int pair, CancellationToken cancellationToken)
    {
        ulong epoch = EpochOf(pair) + 1;
        await ClaimAsync(pair, epoch, cancellationToken);
        return epoch;
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await Task.WhenAll(_renewers).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stopping.Dispose();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await Parallel.ForAsync(0, _leases.Length, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
        {
            long lease = Interlocked.Exchange(ref _leases[i], 0);
            if (lease != 0)
            {
                try
                {
                    await _etcd.RevokeAsync(lease, timeout.Token);
                }
                catch (Exception e) when (e is InvalidOperationException or HttpRequestException or OperationCanceledException)
                {
                    // Gone by itself at the end of its TTL.
                }
            }
        });
    }

    private async Task ClaimAsync(int pair, ulong epoch, CancellationToken cancellationToken)
    {
        string keys = $"{_prefix}pairs/{_map.Pairs[pair].Id}/";
        long lease = await _etcd.GrantAsync((int)LeaseTtl.TotalSeconds, cancellationToken);
        var primary = SimMap.Primary(_map, pair, epoch);
        var secondary = SimMap.Primary(_map, pair, epoch + 1);
        await _etcd.PutAllAsync(
            [
                ($"{keys}leader", SimMap.LeaderValue(epoch, primary, lease), lease),
                ($"{keys}epoch", SimMap.EpochValue(epoch), 0),
                ($"{keys}in-sync", SimMap.InSyncValue(epoch, primary, secondary), 0),
            ],
            cancellationToken);
        Volatile.Write(ref _epochs[pair], epoch);
        Volatile.Write(ref _leases[pair], lease);
    }

    // The primary's renewal loop: wait TTL / 4, renew, as PairCoordinator.KeepAliveAsync does.
    private async Task RenewAsync(int pair, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(LeaseTtl / 4, stopping);
                long lease = Volatile.Read(ref _leases[pair]);
                if (lease == 0)
                {
                    continue;
                }

                long started = Stopwatch.GetTimestamp();
                bool alive = await _etcd.KeepAliveAsync(lease, stopping) > 0;
                Interlocked.Increment(ref alive ? ref _renewals : ref _renewalsFailed);
                List<double> latencies = Volatile.Read(ref _renewalMs);
                lock (latencies)
                {
                    latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
            }
            catch (Exception e) when (e is InvalidOperationException or HttpRequestException or TaskCanceledException && !stopping.IsCancellationRequested)
            {
                Interlocked.Increment(ref _renewalsFailed);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    // The secondary's read-lease check: read the in-sync key every InSyncCheck (RenewReadLeaseAsync's loop).
    private async Task ReadInSyncAsync(int pair, CancellationToken stopping)
    {
        string key = $"{_prefix}pairs/{_map.Pairs[pair].Id}/in-sync";
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(InSyncCheck, stopping);
                if (await _etcd.GetAsync(key, stopping) is not null)
                {
                    Interlocked.Increment(ref _inSyncReads);
                }
            }
            catch (Exception e) when (e is InvalidOperationException or HttpRequestException or TaskCanceledException && !stopping.IsCancellationRequested)
            {
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
