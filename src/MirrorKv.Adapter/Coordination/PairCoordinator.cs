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

    public PairCoordinator(CoordinatorOptions options, TimeProvider time, ILogger logger)
    {
        _options = options;
        _etcd = new EtcdClient(options.Endpoints, options.RequestTimeout);
        _time = time;
        _logger = logger;
    }

    /// <summary>Raised after each renewal with the clock reading taken before it was asked for, and the TTL etcd granted.</summary>
    public event Action<long, TimeSpan>? Renewed;

    /// <summary>Raised when etcd no longer has this node's lease (it expired or was revoked): the leader key is gone or someone else's.</summary>
    public event Action? Lost;

    /// <summary>The outcome of <see cref="TryLeadAsync"/>.</summary>
    public readonly record struct Claim(bool Won, ulong Epoch, LeaderRecord? Holder, long Stamp = 0, TimeSpan Ttl = default);

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
    /// </summary>
    public async Task<Claim> TryLeadAsync(IPEndPoint me, ulong? keepEpoch, CancellationToken cancellationToken)
    {
        EtcdClient.Entry leader = await _etcd.GetAsync(_options.LeaderKey, cancellationToken).ConfigureAwait(false);
        if (leader.CreateRevision != 0)
        {
            return new Claim(false, 0, LeaderRecord.Decode(leader.Value, leader.Lease));
        }

        EtcdClient.Entry epochEntry = await _etcd.GetAsync(_options.EpochKey, cancellationToken).ConfigureAwait(false);
        ulong last = Parse(epochEntry);
        if (keepEpoch is { } keep && keep < last)
        {
            return new Claim(false, last, null);
        }

        ulong epoch = keepEpoch ?? last + 1;
        long stamp = _time.GetTimestamp();
        (long leaseId, TimeSpan ttl) = await _etcd.GrantAsync(_options.LeaseTtl, cancellationToken).ConfigureAwait(false);
        bool won = await _etcd.PutIfAsync(
            [(_options.LeaderKey, 0, null), (_options.EpochKey, epochEntry.CreateRevision, epochEntry.CreateRevision == 0 ? null : epochEntry.ModRevision)],
            [(_options.LeaderKey, new LeaderRecord(epoch, me, leaseId).Encode(), leaseId), (_options.EpochKey, Encoding.UTF8.GetBytes(epoch.ToString(System.Globalization.CultureInfo.InvariantCulture)), 0)],
            cancellationToken).ConfigureAwait(false);
        if (!won)
        {
            await _etcd.RevokeAsync(leaseId, cancellationToken).ConfigureAwait(false);
            return new Claim(false, 0, await ReadLeaderAsync(cancellationToken).ConfigureAwait(false));
        }

        long old = Interlocked.Exchange(ref _leaseId, leaseId);
        Renewed?.Invoke(stamp, ttl);
        LogLeading(epoch, me.ToString(), leaseId, ttl.TotalSeconds);
        if (old == 0 && _keepAlive.IsCompleted)
        {
            _keepAlive = KeepAliveAsync(_stopping.Token);
        }

        return new Claim(true, epoch, null, stamp, ttl);
    }

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

    [LoggerMessage(Level = LogLevel.Information, Message = "gave up the leader key in etcd (lease {Lease:x} revoked)")]
    private partial void LogResigned(long lease);

    [LoggerMessage(Level = LogLevel.Warning, Message = "etcd no longer has this node's lease {Lease:x}: the leader key is gone")]
    private partial void LogLeaseLost(long lease);

    [LoggerMessage(Level = LogLevel.Warning, Message = "cannot renew the etcd lease ({Problem}): serving on the secondary's lease alone; no promotion is possible meanwhile")]
    private partial void LogEtcdProblem(string problem);

    [LoggerMessage(Level = LogLevel.Information, Message = "etcd answers again")]
    private partial void LogEtcdBack();
}
