using MirrorKv.Protocol;
using MirrorKv.Transport;
using Microsoft.Extensions.Logging;

namespace MirrorKv.Adapter;

/// <summary>
/// With a witness, a secondary serves reads (FAILOVER_READ, READ of its own region, LOOKUP, GET, TRANSLATION) only
/// while it holds a read lease: while etcd's in-sync key names it, it holds every write the primary acknowledged. A
/// primary that lost its link goes on alone with its witness while the secondary may still be alive and reachable by
/// clients, and the writes it then acknowledges alone are missing there; a read served from that copy would go
/// backwards.
/// </summary>
/// <remarks>
/// Every <see cref="NodeOptions.InSyncReadCheck"/> the secondary reads its clock and sends the reading to the primary
/// (READ_LEASE, protocol 1.5). The primary grants it (echoes it) while it is primary at that epoch and this link is
/// the one etcd names in sync (<c>_inSyncLink</c>, which going on alone empties before it
/// clears the key); a grant extends the lease to the reading plus <see cref="NodeOptions.InSyncReadLease"/>: when the
/// primary looked, the key named this node, at some moment after the reading. The secondary reads the key in etcd
/// itself (etcd's range read is linearizable; same rule) only when the last request got no grant within a tick (the
/// link is down, the primary silent or no longer vouching), when the primary speaks no 1.5, or when less than a
/// quarter of the lease is left; one such read at a time, beside the requests. So a protected pair costs etcd nothing
/// for its reads, and a secondary whose primary died keeps its lease from etcd, since nobody clears the key.
/// The primary clears the name before it acknowledges anything alone (MirrorKvNode.InSync.cs), and then waits twice
/// the read lease (the 2× clock-rate margin the pair's leases use) before it does: by then no lease that a grant or
/// a read before the clear gave is running. A renewal that fails gives nothing, so the lease runs out and reads are
/// refused until one succeeds. Without a witness nothing changes: a pair-mode primary goes on alone only when its
/// secondary is dead.
/// </remarks>
public sealed partial class MirrorKvNode
{
    // The monotonic-clock deadline (TimeProvider timestamp) until which this secondary may serve reads; 0: none.
    private long _readLeaseUntil;

    // The stamp of the last READ_LEASE sent (0: none since the last etcd-only tick); its grant, if any, extended the
    // lease to at least this plus the lease.
    private long _readLeaseAsked;

    // At most one etcd read of the in-sync key in flight: the loop goes on asking the primary meanwhile.
    private Task _etcdReadLease = Task.CompletedTask;

    // What the log says of the lease: where its last extension came from, or why etcd refused it.
    private volatile string _readLeaseSource = "";
    private volatile string? _readLeaseRefusal;
    private bool _readsLogged;

    /// <summary>
    /// Whether a read received now may be served: always, except at a secondary with a witness whose read lease
    /// is not running. Checked once per receive batch.
    /// </summary>
    internal bool MayServeReads =>
        _coordinator is null || _role.Role != NodeRole.Secondary || _time.GetTimestamp() < Volatile.Read(ref _readLeaseUntil);

    private long ReadLeaseTicks => (long)(Options.InSyncReadLease.TotalSeconds * _time.TimestampFrequency);

    private void StartReadLease()
    {
        if (_coordinator is not null)
        {
            _ = RenewReadLeaseAsync(_coordinator);
        }
    }

    private async Task RenewReadLeaseAsync(PairCoordinator coordinator)
    {
        long leaseTicks = ReadLeaseTicks;
        while (true)
        {
            (NodeRole role, ulong epoch) = _role.Current;
            if (role == NodeRole.Stopped)
            {
                return;
            }

            if (role == NodeRole.Secondary)
            {
                long now = _time.GetTimestamp();

                // etcd is asked when the primary cannot vouch (a 1.4 primary, no link), did not grant the last
                // request within a tick (the link is down, the primary silent or no longer vouching), or the lease is
                // nearly out anyway (this loop ran late); each renewal alone lets reads go on a whole lease from its
                // stamp, so etcd has three quarters of a lease to answer once the grants stop.
                long until = Volatile.Read(ref _readLeaseUntil);
                SecondaryLink? link = _link is { GrantsReadLeases: true } l ? l : null;
                bool unanswered = _readLeaseAsked != 0 && until < _readLeaseAsked + leaseTicks;
                if ((link is null || unanswered || until - now < leaseTicks / 4) && _etcdReadLease.IsCompleted)
                {
                    _etcdReadLease = RenewFromEtcdAsync(coordinator, epoch, now);
                }

                _readLeaseAsked = link is null ? 0 : now;
                link?.RequestReadLease(epoch, now);

                LogReadsChanged();
            }
            else
            {
                Volatile.Write(ref _readLeaseUntil, 0);
                _readLeaseAsked = 0;
                _readsLogged = false;
            }

            try
            {
                await Task.Delay(Options.InSyncReadCheck, _time).ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                return;
            }
        }
    }

    // The fallback: etcd's key, read by this node, the lease counted from `asked` (read before the request left).
    private async Task RenewFromEtcdAsync(PairCoordinator coordinator, ulong epoch, long asked)
    {
        try
        {
            InSyncRecord? record = await coordinator.ReadInSyncAsync(CancellationToken.None).ConfigureAwait(false);
            bool named = record is { Secondary: { } secondary } && secondary.Equals(AdvertisedEndPoint) && record.Epoch == epoch;
            (NodeRole role, ulong now) = _role.Current;
            if (named && role == NodeRole.Secondary && now == epoch)
            {
                ExtendReadLease(asked + ReadLeaseTicks, $"etcd records {record} in sync");
            }
            else if (record is null || record.Epoch <= epoch || !record.Leader.Equals(AdvertisedEndPoint))
            {
                _readLeaseRefusal = $"etcd records {record?.ToString() ?? "no in-sync record"}";
                Volatile.Write(ref _readLeaseUntil, 0);
            }

            // Else this node's own takeover wrote the record (it leads a later epoch, alone, before its role says
            // so): it holds every acknowledged write, and the lease it has runs out by itself or the promotion
            // ends the secondary role first.
        }
        catch (Exception e) when (e is EtcdException or ObjectDisposedException or OperationCanceledException)
        {
            // Nothing granted: the lease runs out by itself unless a later renewal succeeds.
        }
    }

    /// <summary>A READ_LEASE grant from the primary (on the secondary's link): the lease runs from the granted stamp.</summary>
    private void OnReadLeaseGranted(ulong epoch, long stamp)
    {
        (NodeRole role, ulong current) = _role.Current;
        if (role == NodeRole.Secondary && epoch == current && stamp <= _time.GetTimestamp())
        {
            ExtendReadLease(stamp + ReadLeaseTicks, GrantedOverTheLink);
        }
    }

    private const string GrantedOverTheLink = "the primary grants it over the peer link (etcd records this node in sync)";

    // Grants never shorten a running lease: each one alone is safe, so the latest deadline holds.
    private void ExtendReadLease(long until, string source)
    {
        long current = Volatile.Read(ref _readLeaseUntil);
        while (until > current)
        {
            long seen = Interlocked.CompareExchange(ref _readLeaseUntil, until, current);
            if (seen == current)
            {
                _readLeaseSource = source;
                return;
            }

            current = seen;
        }
    }

    private void LogReadsChanged()
    {
        bool serving = _time.GetTimestamp() < Volatile.Read(ref _readLeaseUntil);
        if (serving == _readsLogged)
        {
            return;
        }

        _readsLogged = serving;
        if (serving)
        {
            LogReadsServed(_readLeaseSource);
        }
        else
        {
            LogReadsRefused(_readLeaseRefusal ?? $"neither the primary nor etcd renewed the read lease for {Options.InSyncReadLease.TotalMilliseconds:F0} ms");
            _readLeaseRefusal = null;
        }
    }

    /// <summary>
    /// READ_LEASE on the primary's side of a peer link: granted (the request echoed) while this node is primary at the
    /// request's epoch and the link is the one etcd names in sync (an etcd outage changes nothing: going on alone
    /// needs etcd, so meanwhile every acknowledged write reaches this secondary). Read without a lock: going on
    /// alone empties <c>_inSyncLink</c> before it clears the key, so a link seen here was seen named after the
    /// secondary's stamp was taken and before any clear began.
    /// </summary>
    internal void OnReadLeaseRequest(IConnection connection, ulong requestId, ReadOnlySpan<byte> payload)
    {
        if (ReadLeaseMessages.TryRead(payload, out ulong epoch, out ulong stamp) != WireStatus.Ok)
        {
            Replies.Error(connection, Opcode.ReadLease, requestId, WireStatus.MalformedFrame, $"READ_LEASE payload must be {ReadLeaseMessages.Size} bytes: epoch and stamp");
            return;
        }

        (NodeRole role, ulong current) = _role.Current;
        string? refusal = role != NodeRole.Primary ? NotGrantedNotPrimary
            : epoch != current ? NotGrantedOtherEpoch
            : _coordinator is null ? NotGrantedNoWitness
            : !ReferenceEquals(Volatile.Read(ref _inSyncLink), connection) ? NotGrantedNotInSync
            : null;
        if (refusal is not null)
        {
            Replies.Error(connection, Opcode.ReadLease, requestId, WireStatus.NotInSync, refusal);
        }
        else
        {
            ReadLeaseMessages.Write(connection.BeginPost(Opcode.ReadLease | Opcode.ReplyBit, WireStatus.Ok, requestId, ReadLeaseMessages.Size), epoch, stamp);
            connection.EndPost();
        }
    }

    private const string NotGrantedNotPrimary = "this node is not the primary";
    private const string NotGrantedOtherEpoch = "the request's epoch is not this primary's";
    private const string NotGrantedNoWitness = "this primary has no witness: a secondary's reads need no lease";
    private const string NotGrantedNotInSync = "etcd does not record this secondary in sync at this primary now";

    // Refusal text for a read at a secondary that cannot vouch for holding every acknowledged write.
    internal const string ReadsRefusedText =
        "this secondary cannot vouch that it holds every acknowledged write (with a coordinator, its read lease is not running: neither its primary nor etcd says it is in sync now; else it was not told the pair is protected yet, or was dropped or diverged): the primary may have acknowledged writes without it; ask the primary";

    [LoggerMessage(Level = LogLevel.Information, Message = "serving reads: {How}")]
    private partial void LogReadsServed(string how);

    [LoggerMessage(Level = LogLevel.Warning, Message = "refusing reads: {Why}; the primary may acknowledge writes without this node")]
    private partial void LogReadsRefused(string why);
}
