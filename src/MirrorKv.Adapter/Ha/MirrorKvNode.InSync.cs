using System.Net;
using MirrorKv.Protocol;
using MirrorKv.Transport;
using Microsoft.Extensions.Logging;

namespace MirrorKv.Adapter;

/// <summary>
/// With a witness, the primary keeps etcd's in-sync key true (<see cref="InSyncRecord"/>): it names the
/// secondary only once that secondary caught up, before telling it the pair is protected, and it clears the
/// name before it acknowledges any write without it. So a dropped secondary cannot take over even when it
/// never heard of the drop (cut off before the dropped flag reached it): etcd refuses its claim.
/// </summary>
/// <remarks>
/// The cost is on the rare path only: going on alone waits for one etcd transaction, during which writes wait
/// as they did for the lost secondary's ack; they are acknowledged once etcd has the record, or fail with
/// ReplicationFailed if this node fences first (its etcd lease lapses while etcd is out). See docs/failover.md.
/// </remarks>
public sealed partial class MirrorKvNode
{
    // Under _haLock. Whether etcd may name a secondary as in sync: set before the record is asked for, cleared
    // only after etcd confirmed the clear.
    private bool _inSyncNamed;

    // Under _haLock. Set while a clear is in flight: writes wait, and no secondary attaches.
    private bool _clearingInSync;

    // The link whose secondary etcd names: heartbeats on it say protected, and READ_LEASE on it is granted. Set
    // only once etcd has the record; emptied (GoOnAlone) before the record is cleared: a secondary's read lease is
    // safe only because no grant is decided after a clear began (MirrorKvNode.ReadLease.cs).
    private IConnection? _inSyncLink;

    // One in-sync write to etcd at a time, so a clear always lands after the record it undoes.
    private readonly SemaphoreSlim _inSyncWrites = new(1, 1);

    /// <summary>Whether heartbeats on <paramref name="peer"/> may say the pair is protected.</summary>
    private bool InSyncRecordedFor(IConnection peer) => _coordinator is null || ReferenceEquals(Volatile.Read(ref _inSyncLink), peer);

    // The secondary on this link reports it caught up. In pair mode it is protected at once; with a witness,
    // once etcd names it.
    private void OnSecondaryCaughtUp(IConnection link, ulong lsn)
    {
        if (_coordinator is not { } coordinator)
        {
            LogProtected(lsn);
            SendHeartbeat(link, NodeRole.Primary, Epoch);
            return;
        }

        IPEndPoint? secondary;
        ulong epoch;
        lock (_haLock)
        {
            secondary = Volatile.Read(ref _secondaryEndPoint);
            (NodeRole role, epoch) = _role.Current;
            if (role != NodeRole.Primary || Stream.Peer != link || secondary is null || _clearingInSync)
            {
                return;
            }

            _inSyncNamed = true;
        }

        _ = RecordSecondaryAsync(coordinator, link, new InSyncRecord(epoch, AdvertisedEndPoint, secondary), lsn);
    }

    private async Task RecordSecondaryAsync(PairCoordinator coordinator, IConnection link, InSyncRecord record, ulong lsn)
    {
        string? lastProblem = null;
        while (Stream.Peer == link && link.IsOpen && Role is NodeRole.Primary or NodeRole.Fenced && _fence != FenceKind.Replaced)
        {
            await _inSyncWrites.WaitAsync().ConfigureAwait(false);
            try
            {
                // Lost meanwhile: going on alone clears whatever this might have written. Not recorded: this
                // node's leader key is gone (its etcd lease lapsed), and it either takes it back under the same
                // epoch, when the next try succeeds, or is replaced, which ends the loop.
                if (Stream.Peer == link && link.IsOpen && await coordinator.RecordInSyncAsync(record, CancellationToken.None).ConfigureAwait(false))
                {
                    lock (_haLock)
                    {
                        if (Stream.Peer != link || !link.IsOpen)
                        {
                            return;
                        }

                        Volatile.Write(ref _inSyncLink, link);
                    }

                    LogProtected(lsn);
                    SendHeartbeat(link, NodeRole.Primary, Epoch);
                    return;
                }
            }
            catch (EtcdException e)
            {
                if (e.Message != lastProblem)
                {
                    LogInSyncWaiting("record the caught-up secondary", e.Message);
                    lastProblem = e.Message;
                }
            }
            catch (ConnectionClosedException)
            {
                return;
            }
            finally
            {
                _inSyncWrites.Release();
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), _time).ConfigureAwait(false);
        }
    }

    // Under _haLock: the secondary is gone for sure and could not have promoted. Writes stand on this node
    // alone from here on; with a witness naming that secondary in sync, only once etcd no longer does.
    private void GoOnAlone(string why)
    {
        Volatile.Write(ref _inSyncLink, null);
        if (_coordinator is not { } coordinator || !_inSyncNamed)
        {
            GoOnAloneNow(why);
            return;
        }

        _waiters.Hold();
        if (!_clearingInSync)
        {
            _clearingInSync = true;
            LogClearingInSync(why);
            _ = ClearInSyncAsync(coordinator, why);
        }
    }

    private async Task ClearInSyncAsync(PairCoordinator coordinator, string why)
    {
        string? lastProblem = null;
        while (true)
        {
            await _inSyncWrites.WaitAsync().ConfigureAwait(false);
            try
            {
                (NodeRole role, ulong epoch) = _role.Current;
                if (role is not (NodeRole.Primary or NodeRole.Fenced) || _fence == FenceKind.Replaced)
                {
                    lock (_haLock)
                    {
                        // Replaced or stopped: the fence failed the waiting writes; nothing is acknowledged alone.
                        _clearingInSync = false;
                        _waiters.Unhold();
                    }

                    return;
                }

                // Not cleared: this node's leader key is gone; it takes it back (the next try succeeds) or is
                // replaced (the check above ends the loop). Meanwhile nothing is acknowledged.
                if (await coordinator.RecordInSyncAsync(new InSyncRecord(epoch, AdvertisedEndPoint, null), CancellationToken.None).ConfigureAwait(false))
                {
                    break;
                }
            }
            catch (EtcdException e)
            {
                if (e.Message != lastProblem)
                {
                    LogInSyncWaiting("clear the lost secondary", e.Message);
                    lastProblem = e.Message;
                }
            }
            finally
            {
                _inSyncWrites.Release();
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), _time).ConfigureAwait(false);
        }

        // The secondary may still serve reads on a grant or a read of the key made before the clear
        // (MirrorKvNode.ReadLease.cs): nothing is acknowledged alone until every such read lease has run out, with
        // the 2× clock-rate margin.
        // Still clearing meanwhile: writes wait, no secondary attaches, and a second loss does not go on alone early.
        await Task.Delay(Options.InSyncReadLease * 2, _time).ConfigureAwait(false);
        lock (_haLock)
        {
            _clearingInSync = false;
            _inSyncNamed = false;
            (NodeRole role, _) = _role.Current;
            if (role is NodeRole.Primary or NodeRole.Fenced && _fence != FenceKind.Replaced)
            {
                // Holding the leader key (the transaction compared it), nobody else can serve.
                GoOnAloneNow(why);
            }
            else
            {
                _waiters.Unhold();
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "lost the secondary ({Why}): writes wait until etcd no longer names it in sync")]
    private partial void LogClearingInSync(string why);

    [LoggerMessage(Level = LogLevel.Warning, Message = "cannot {What} in etcd yet ({Problem}); trying again")]
    private partial void LogInSyncWaiting(string what, string problem);
}
