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
/// (READ_LEASE, protocol 1.5). The primary echoes it while it is primary at that epoch and this link is the one etcd
/// names in sync (<c>_inSyncLink</c>, which going on alone empties before it clears the key); the echo extends the
/// lease to the reading plus <see cref="NodeOptions.InSyncReadLease"/>: when the primary looked, the key named this
/// node, at some moment after the reading. Only when less than half a lease is left (no echo for a while: the link is
/// down, the primary is silent, or it no longer vouches) does the secondary read the key in etcd itself, with the
/// same rule (etcd's range read is linearizable). So a protected pair costs etcd nothing for its reads, and a
/// secondary whose primary died keeps its lease from etcd, since nobody clears the key.
/// The primary clears the name before it acknowledges anything alone (MirrorKvNode.InSync.cs), and then waits twice
/// the read lease (the 2× clock-rate margin the pair's leases use) before it does: by then no lease that an echo or
/// a read before the clear granted is running. A renewal that fails grants nothing, so the lease runs out and reads
/// are refused until one succeeds. Without a witness nothing changes: a pair-mode primary goes on alone only when
/// its secondary is dead.
/// </remarks>
public sealed partial class MirrorKvNode
{
    // The monotonic-clock deadline (TimeProvider timestamp) until which this secondary may serve reads; 0: none.
    private long _readLeaseUntil;
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
                long asked = _time.GetTimestamp();
                if (_link is { GrantsReadLeases: true } link)
                {
                    link.RequestReadLease(epoch, asked);
                }

                string? record = null;
                if (Volatile.Read(ref _readLeaseUntil) - asked < leaseTicks / 2)
                {
                    record = await RenewFromEtcdAsync(coordinator, epoch, asked, leaseTicks).ConfigureAwait(false);
                }

                LogReadsChanged(record);
            }
            else
            {
                Volatile.Write(ref _readLeaseUntil, 0);
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

    // The fallback: etcd's key, read by this node. Returns the record as read, for the log, or null when etcd did not answer.
    private async Task<string?> RenewFromEtcdAsync(PairCoordinator coordinator, ulong epoch, long asked, long leaseTicks)
    {
        try
        {
            InSyncRecord? record = await coordinator.ReadInSyncAsync(CancellationToken.None).ConfigureAwait(false);
            bool named = record is { Secondary: { } secondary } && secondary.Equals(AdvertisedEndPoint) && record.Epoch == epoch;
            (NodeRole role, ulong now) = _role.Current;
            if (named && role == NodeRole.Secondary && now == epoch)
            {
                ExtendReadLease(asked + leaseTicks);
            }
            else if (record is null || record.Epoch <= epoch || !record.Leader.Equals(AdvertisedEndPoint))
            {
                Volatile.Write(ref _readLeaseUntil, 0);
            }

            // Else this node's own takeover wrote the record (it leads a later epoch, alone, before its role says
            // so): it holds every acknowledged write, and the lease it has runs out by itself or the promotion
            // ends the secondary role first.
            return record?.ToString() ?? "no record";
        }
        catch (Exception e) when (e is EtcdException or ObjectDisposedException or OperationCanceledException)
        {
            // Nothing granted: the lease runs out by itself unless a later renewal succeeds.
            return null;
        }
    }

    /// <summary>A READ_LEASE echo from the primary (on the secondary's link): the lease runs from the echoed stamp.</summary>
    private void OnReadLeaseGranted(ulong epoch, long stamp)
    {
        (NodeRole role, ulong current) = _role.Current;
        if (role == NodeRole.Secondary && epoch == current && stamp <= _time.GetTimestamp())
        {
            ExtendReadLease(stamp + ReadLeaseTicks);
        }
    }

    // Grants never shorten a running lease: each one alone is safe, so the latest deadline holds.
    private void ExtendReadLease(long until)
    {
        long current = Volatile.Read(ref _readLeaseUntil);
        while (until > current)
        {
            long seen = Interlocked.CompareExchange(ref _readLeaseUntil, until, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    private void LogReadsChanged(string? record)
    {
        bool serving = _time.GetTimestamp() < Volatile.Read(ref _readLeaseUntil);
        if (serving == _readsLogged)
        {
            return;
        }

        _readsLogged = serving;
        if (serving)
        {
            LogReadsServed(record is null ? "the primary vouches over the link that etcd records this node in sync" : $"etcd records {record} in sync");
        }
        else
        {
            LogReadsRefused(record is null ? $"neither the primary nor etcd renewed the read lease for {Options.InSyncReadLease.TotalMilliseconds:F0} ms" : $"etcd records {record}");
        }
    }

    /// <summary>
    /// READ_LEASE on the primary's side of a peer link: echoed while this node is primary at the request's epoch and
    /// the link is the one etcd names in sync. Read without a lock: going on alone empties <c>_inSyncLink</c> before
    /// it clears the key, so a link seen here was named after the secondary's stamp and before any clear.
    /// </summary>
    internal void OnReadLeaseRequest(IConnection connection, ulong requestId, ReadOnlySpan<byte> payload)
    {
        if (ReadLeaseMessages.TryRead(payload, out ulong epoch, out ulong stamp) != WireStatus.Ok)
        {
            Replies.Error(connection, Opcode.ReadLease, requestId, WireStatus.MalformedFrame, $"READ_LEASE payload must be {ReadLeaseMessages.Size} bytes: epoch and stamp");
            return;
        }

        (NodeRole role, ulong current) = _role.Current;
        string? refusal = role != NodeRole.Primary ? $"this node is {role}, not primary"
            : epoch != current ? $"epoch {epoch} is not this primary's {current}"
            : _coordinator is null ? "this primary has no witness: a secondary's reads need no lease"
            : !ReferenceEquals(Volatile.Read(ref _inSyncLink), connection) ? "etcd does not record this secondary in sync at this primary now"
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

    // Refusal text for a read at a secondary whose lease is not running.
    internal const string ReadsRefusedText =
        "this secondary is not recorded in sync in etcd now: the primary may have acknowledged writes without it; ask the primary";

    [LoggerMessage(Level = LogLevel.Information, Message = "serving reads: {How}")]
    private partial void LogReadsServed(string how);

    [LoggerMessage(Level = LogLevel.Warning, Message = "refusing reads: {Why}; the primary may acknowledge writes without this node")]
    private partial void LogReadsRefused(string why);
}
