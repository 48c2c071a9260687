using MirrorKv.Protocol;
using Microsoft.Extensions.Logging;

namespace MirrorKv.Adapter;

/// <summary>
/// With a witness, a secondary serves reads (FAILOVER_READ, READ of its own region, LOOKUP, GET, TRANSLATION) only
/// while etcd's in-sync key names it: only then does it hold every write the primary acknowledged. A primary that
/// lost its link goes on alone with its witness while the secondary may still be alive and reachable by clients,
/// and the writes it then acknowledges alone are missing there; a read served from that copy would go backwards.
/// </summary>
/// <remarks>
/// The secondary reads the key every <see cref="NodeOptions.InSyncReadCheck"/> and, when the key names it at its
/// epoch, serves reads until <see cref="NodeOptions.InSyncReadLease"/> after the clock reading taken before the
/// check was sent (etcd's range read is linearizable: the key said so at some moment after that reading). The
/// primary clears the name before it acknowledges anything alone (MirrorKvNode.InSync.cs), and then waits twice the
/// read lease (the 2× clock-rate margin the pair's leases use) before it does: by then no lease a check before the
/// clear granted is running. A check that fails (etcd out, slow) grants nothing, so the lease runs out and reads
/// are refused until one succeeds; a secondary whose primary died keeps its lease, since nobody clears the key.
/// Without a witness nothing changes: a pair-mode primary goes on alone only when its secondary is dead.
/// </remarks>
public sealed partial class MirrorKvNode
{
    // The monotonic-clock deadline (TimeProvider timestamp) until which this secondary may serve reads; 0: none.
    private long _readLeaseUntil;
    private bool _readLeaseLogged;

    /// <summary>
    /// Whether a read received now may be served: always, except at a secondary with a witness whose read lease
    /// (etcd naming it in sync) is not running. Checked once per receive batch.
    /// </summary>
    internal bool MayServeReads =>
        _coordinator is null || _role.Role != NodeRole.Secondary || _time.GetTimestamp() < Volatile.Read(ref _readLeaseUntil);

    private void StartReadLease()
    {
        if (_coordinator is not null)
        {
            _ = RenewReadLeaseAsync(_coordinator);
        }
    }

    private async Task RenewReadLeaseAsync(PairCoordinator coordinator)
    {
        long leaseTicks = (long)(Options.InSyncReadLease.TotalSeconds * _time.TimestampFrequency);
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
                try
                {
                    InSyncRecord? record = await coordinator.ReadInSyncAsync(CancellationToken.None).ConfigureAwait(false);
                    bool named = record is { Secondary: { } secondary } && secondary.Equals(AdvertisedEndPoint) && record.Epoch == epoch;
                    (role, ulong now) = _role.Current;
                    Volatile.Write(ref _readLeaseUntil, named && role == NodeRole.Secondary && now == epoch ? asked + leaseTicks : 0);
                    if (named != _readLeaseLogged)
                    {
                        _readLeaseLogged = named;
                        if (named)
                        {
                            LogReadsServed(record!.ToString());
                        }
                        else
                        {
                            LogReadsRefused(record?.ToString() ?? "no record");
                        }
                    }
                }
                catch (Exception e) when (e is EtcdException or ObjectDisposedException or OperationCanceledException)
                {
                    // Nothing granted: the lease runs out by itself unless a later check succeeds.
                }
            }
            else
            {
                Volatile.Write(ref _readLeaseUntil, 0);
                _readLeaseLogged = false;
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

    // Refusal text for a read at a secondary whose lease is not running.
    internal const string ReadsRefusedText =
        "this secondary is not recorded in sync in etcd now: the primary may have acknowledged writes without it; ask the primary";

    [LoggerMessage(Level = LogLevel.Information, Message = "serving reads: etcd records {Record} in sync")]
    private partial void LogReadsServed(string record);

    [LoggerMessage(Level = LogLevel.Warning, Message = "refusing reads: etcd does not record this node in sync ({Record}); the primary may acknowledge writes without it")]
    private partial void LogReadsRefused(string record);
}
