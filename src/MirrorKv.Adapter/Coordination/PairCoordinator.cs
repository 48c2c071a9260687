using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;

namespace MirrorKv.Adapter;

/// <summary>
/// One node's view of its pair in etcd: who leads under which epoch, and, for the leader, the etcd lease
/// that keeps its leader key alive. A node becomes primary only by creating the leader key with the next
/// epoch in a transaction, which etcd allows only when no key exists, that is after the previous leader's
/// lease expired or was revoked.
/// </summary>
internal sealed partial class PairCoordinator : IAsyncDisposable
{
    private readonly CoordinatorOptions _options;
    private readonly EtcdClient _etcd;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private Task _keepAlive = Task.CompletedTask;
    private long _leaseId;
    private long _leaderRevision;

    public PairCoordinator(CoordinatorOptions options, TimeProvider time, ILogger logger)
    {
        _options = options;
        _etcd = new EtcdClient(options.EndPoints, options.RequestTimeout);
        _time = time;
        _logger = logger;
    }

    /// <summary>Raised after each renewal with the clock reading taken before it was asked for, and the TTL etcd granted.</summary>
    public event Action<long, TimeSpan>? Renewed;

    /// <summary>Raised when etcd no longer has this node's lease (it expired or was revoked): the leader key is gone or someone else's.</summary>
    public event Action? Lost;

    /// <summary>The outcome of <see cref="TryLeadAsync"/>.</summary>
    /// <param name="Won">Whether this node now holds the leader key.</param>
    /// <param name="Epoch">The epoch it won, or the last one etcd granted when refused for an old epoch.</param>
    /// <param name="Holder">Who holds the key, when someone does.</param>
    /// <param name="Stamp">The clock reading taken before the claim was sent (the etcd lease runs from no earlier).</param>
    /// <param name="Ttl">The TTL etcd granted.</param>
    /// <param name="NotInSync">Set when the claim was refused because etcd records that the claimant lacks acknowledged writes.</param>
    public readonly record struct Claim(bool Won, ulong Epoch, LeaderRecord? Holder, long Stamp = 0, TimeSpan Ttl = default, InSyncRecord? NotInSync = null);

    public CoordinatorOptions Options => _options;

    public async Task<LeaderRecord?> ReadLeaderAsync(CancellationToken cancellationToken)
    {
        EtcdClient.Entry leader = await _etcd.GetAsync(_options.LeaderKey, cancellationToken).ConfigureAwait(false);
        return leader.CreateRevision == 0 ? null : LeaderRecord.Decode(leader.Value, leader.Lease);
    }

    public async Task<ulong> ReadEpochAsync(CancellationToken cancellationToken) =>
        Parse(await _etcd.GetAsync(_options.EpochKey, cancellationToken).ConfigureAwait(false));

    /// <summary>
    /// Creates the leader key for <paramref name="me"/> if nobody holds it: under the next epoch, or under
    /// <paramref name="keepEpoch"/> when a leader whose etcd lease lapsed (an etcd outage) claims its key back
    /// and nobody went above that epoch meanwhile. On success the etcd lease is kept alive from here on.
    /// With <paramref name="mustBeInSync"/> (a node that would serve what it holds, as opposed to a fresh
    /// process starting empty) the claim also needs the in-sync key to name <paramref name="me"/>, compared in
    /// the same transaction. A claim under a new epoch records its winner as the only node in sync.
    /// </summary>
    public async Task<Claim> TryLeadAsync(IPEndPoint me, ulong? keepEpoch, bool mustBeInSync, CancellationToken cancellationToken)
    {
        EtcdClient.Entry leader = await _etcd.GetAsync(_options.LeaderKey, cancellationToken).ConfigureAwait(false);
        if (leader.CreateRevision != 0)
        {
            return await HeldAsync(leader, me, keepEpoch, cancellationToken).ConfigureAwait(false);
        }

        EtcdClient.Entry epochEntry = await _etcd.GetAsync(_options.EpochKey, cancellationToken).ConfigureAwait(false);
        ulong last = Parse(epochEntry);
        if (keepEpoch is { } keep && keep < last)
        {
            return new Claim(false, last, null);
        }

        EtcdClient.Entry inSyncEntry = await _etcd.GetAsync(_options.InSyncKey, cancellationToken).ConfigureAwait(false);
        if (mustBeInSync && InSyncRecord.Decode(inSyncEntry.Value) is { } inSync && !inSync.Names(me))
        {
            return new Claim(false, last, null, NotInSync: inSync);
        }

        ulong epoch = keepEpoch ?? last + 1;
        long stamp = _time.GetTimestamp();
        (long leaseId, TimeSpan ttl) = await _etcd.GrantAsync(_options.LeaseTtl, cancellationToken).ConfigureAwait(false);
        List<(string, byte[], long)> puts =
        [
            (_options.LeaderKey, new LeaderRecord(epoch, me, leaseId).Encode(), leaseId),
            (_options.EpochKey, Encoding.UTF8.GetBytes(epoch.ToString(System.Globalization.CultureInfo.InvariantCulture)), 0),
        ];
        if (keepEpoch is null)
        {
            // Under the same epoch the record is this node's own and stays as it is.
            puts.Add((_options.InSyncKey, new InSyncRecord(epoch, me, null).Encode(), 0));
        }

        long revision = await _etcd.PutIfAsync(
            [
                (_options.LeaderKey, 0, null),
                (_options.EpochKey, epochEntry.CreateRevision, epochEntry.CreateRevision == 0 ? null : epochEntry.ModRevision),
                (_options.InSyncKey, inSyncEntry.CreateRevision, inSyncEntry.CreateRevision == 0 ? null : inSyncEntry.ModRevision),
            ],
            puts,
            cancellationToken).ConfigureAwait(false);
        if (revision == 0)
        {
            await _etcd.RevokeAsync(leaseId, cancellationToken).ConfigureAwait(false);
            return await HeldAsync(await _etcd.GetAsync(_options.LeaderKey, cancellationToken).ConfigureAwait(false), me, keepEpoch, cancellationToken).ConfigureAwait(false);
        }

        Volatile.Write(ref _leaderRevision, revision);
        long old = Interlocked.Exchange(ref _leaseId, leaseId);
        Renewed?.Invoke(stamp, ttl);
        LogLeading(epoch, me.ToString(), leaseId, ttl.TotalSeconds);
        if (old == 0 && _keepAlive.IsCompleted)
        {
            _keepAlive = KeepAliveAsync(_stopping.Token);
        }

        return new Claim(true, epoch, null, stamp, ttl);
    }

    // The leader key exists. When it is this node's own claim back under its epoch, applied by etcd after the
    // reply timed out (etcd slow or unreachable for a while; the retry then lost to it), it is adopted: nobody
    // else writes this epoch at this endpoint.
    private async Task<Claim> HeldAsync(EtcdClient.Entry leader, IPEndPoint me, ulong? keepEpoch, CancellationToken cancellationToken)
    {
        LeaderRecord? holder = leader.CreateRevision == 0 ? null : LeaderRecord.Decode(leader.Value, leader.Lease);
        return keepEpoch is { } kept && holder is not null && holder.Epoch == kept && holder.EndPoint.Equals(me)
            ? await AdoptAsync(holder, leader.CreateRevision, cancellationToken).ConfigureAwait(false)
            : new Claim(false, 0, holder);
    }

    private async Task<Claim> AdoptAsync(LeaderRecord mine, long revision, CancellationToken cancellationToken)
    {
        long stamp = _time.GetTimestamp();
        TimeSpan ttl = await _etcd.KeepAliveAsync(mine.Lease, cancellationToken).ConfigureAwait(false);
        if (ttl <= TimeSpan.Zero)
        {
            // Expired between the read and the renewal: the key went with it; the caller tries again.
            return new Claim(false, 0, null);
        }

        Volatile.Write(ref _leaderRevision, revision);
        long old = Interlocked.Exchange(ref _leaseId, mine.Lease);
        Renewed?.Invoke(stamp, ttl);
        LogLeading(mine.Epoch, mine.EndPoint.ToString(), mine.Lease, ttl.TotalSeconds);
        if (old == 0 && _keepAlive.IsCompleted)
        {
            _keepAlive = KeepAliveAsync(_stopping.Token);
        }

        return new Claim(true, mine.Epoch, null, stamp, ttl);
    }

    /// <summary>
    /// Writes the in-sync key, in a transaction that compares the leader key with the one this node created:
    /// only the current leader says who holds its acknowledged writes. False when this node does not hold
    /// the leader key (any more); throws <see cref="EtcdException"/> when etcd cannot be reached.
    /// </summary>
    public async Task<bool> RecordInSyncAsync(InSyncRecord record, CancellationToken cancellationToken)
    {
        long leader = Volatile.Read(ref _leaderRevision);
        if (leader == 0)
        {
            return false;
        }

        long revision = await _etcd.PutIfAsync([(_options.LeaderKey, leader, null)], [(_options.InSyncKey, record.Encode(), 0)], cancellationToken).ConfigureAwait(false);
        if (revision != 0)
        {
            LogInSync(record.ToString());
        }

        return revision != 0;
    }

    /// <summary>Reads the in-sync key: null when absent.</summary>
    public async Task<InSyncRecord?> ReadInSyncAsync(CancellationToken cancellationToken) =>
        InSyncRecord.Decode((await _etcd.GetAsync(_options.InSyncKey, cancellationToken).ConfigureAwait(false)).Value);

    /// <summary>Revokes another node's lease (its leader key goes with it): only for a leader known to be dead.</summary>
    public Task RevokeAsync(LeaderRecord leader, CancellationToken cancellationToken) => _etcd.RevokeAsync(leader.Lease, cancellationToken);

    /// <summary>
    /// Gives up the leader key at once (stops renewing and revokes the lease), so that the other node need not
    /// wait for the TTL: a node that fenced itself for good, or shuts down.
    /// </summary>
    public async Task ResignAsync()
    {
        long lease = Interlocked.Exchange(ref _leaseId, 0);
        if (lease == 0)
        {
            return;
        }

        Volatile.Write(ref _leaderRevision, 0);
        try
        {
            using var timeout = new CancellationTokenSource(_options.RequestTimeout);
            await _etcd.RevokeAsync(lease, timeout.Token).ConfigureAwait(false);
            LogResigned(lease);
        }
        catch (Exception e) when (e is EtcdException or OperationCanceledException)
        {
        }
    }

    /// <summary>Stops renewing and gives up the key if this node holds it.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _keepAlive.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        await ResignAsync().ConfigureAwait(false);
        _etcd.Dispose();
        _stopping.Dispose();
    }

    // Renews four times per TTL, so that one or two lost requests cost nothing.
    private async Task KeepAliveAsync(CancellationToken stopping)
    {
        string? lastProblem = null;
        while (!stopping.IsCancellationRequested)
        {
            await Task.Delay(_options.LeaseTtl / 4, _time, stopping).ConfigureAwait(false);
            long lease = Volatile.Read(ref _leaseId);
            if (lease == 0)
            {
                // Resigned; a later claim starts a new loop.
                return;
            }

            long stamp = _time.GetTimestamp();
            try
            {
                TimeSpan ttl = await _etcd.KeepAliveAsync(lease, stopping).ConfigureAwait(false);
                if (ttl <= TimeSpan.Zero)
                {
                    if (Interlocked.CompareExchange(ref _leaseId, 0, lease) == lease)
                    {
                        LogLeaseLost(lease);
                        Lost?.Invoke();
                    }

                    return;
                }

                if (lastProblem is not null)
                {
                    LogEtcdBack();
                    lastProblem = null;
                }

                Renewed?.Invoke(stamp, ttl);
            }
            catch (EtcdException e) when (!stopping.IsCancellationRequested)
            {
                if (e.Message != lastProblem)
                {
                    LogEtcdProblem(e.Message);
                    lastProblem = e.Message;
                }
            }
        }
    }

    private static ulong Parse(EtcdClient.Entry entry) =>
        entry.Value is { Length: > 0 } value && ulong.TryParse(Encoding.UTF8.GetString(value), out ulong epoch) ? epoch : 0;

    [LoggerMessage(Level = LogLevel.Information, Message = "leading the pair in etcd: epoch {Epoch}, endpoint {EndPoint}, etcd lease {Lease:x} ({Ttl:F0} s)")]
    private partial void LogLeading(ulong epoch, string endPoint, long lease, double ttl);

    [LoggerMessage(Level = LogLevel.Information, Message = "etcd records in sync: {Record}")]
    private partial void LogInSync(string record);

    [LoggerMessage(Level = LogLevel.Information, Message = "gave up the leader key in etcd (lease {Lease:x} revoked)")]
    private partial void LogResigned(long lease);

    [LoggerMessage(Level = LogLevel.Warning, Message = "etcd no longer has this node's lease {Lease:x}: the leader key is gone")]
    private partial void LogLeaseLost(long lease);

    [LoggerMessage(Level = LogLevel.Warning, Message = "cannot renew the etcd lease ({Problem}): serving on the secondary's lease alone; no promotion is possible meanwhile")]
    private partial void LogEtcdProblem(string problem);

    [LoggerMessage(Level = LogLevel.Information, Message = "etcd answers again")]
    private partial void LogEtcdBack();
}
