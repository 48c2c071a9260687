using System.Net;
using MirrorKv.Protocol;
using MirrorKv.Transport;
using Microsoft.Extensions.Logging;

namespace MirrorKv.Adapter;

/// <summary>
/// The pair with etcd as its witness (<see cref="NodeOptions.Coordinator"/>): a primary serves while its etcd
/// lease or its secondary's echo holds, so a secondary that dies silently no longer stops it; a secondary
/// promotes only by winning the leader key in etcd, which it can only once the old primary's etcd lease is
/// gone; an etcd outage alone stops no healthy pair (the echo keeps it serving), it only stops promotions.
/// </summary>
public sealed partial class MirrorKvNode
{
    private PairCoordinator? _coordinator;
    private int _takingOver;
    private int _reclaiming;

    /// <summary>The coordinator, when the pair has one.</summary>
    internal PairCoordinator? Coordinator => _coordinator;

    // At start only: etcd may be slow to answer the first requests of a process (a loaded machine, nodes of many
    // pairs starting at once), and one timeout should not end the node. A claim that etcd applied after its
    // reply timed out names this node as holder next time round, and is waited out as any earlier incarnation's.
    private static async Task<T> UntilEtcdAnswersAsync<T>(Func<Task<T>> call, TimeProvider time, CancellationToken cancellationToken)
    {
        long start = time.GetTimestamp();
        while (true)
        {
            try
            {
                return await call().ConfigureAwait(false);
            }
            catch (EtcdUnavailableException) when (time.GetElapsedTime(start) < StartEtcdPatience)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>How long a starting node keeps asking an etcd that does not answer: 10 s, then it fails to start.</summary>
    private static readonly TimeSpan StartEtcdPatience = TimeSpan.FromSeconds(10);

    // Before the node exists: a primary claims the leader key (its epoch is the one etcd grants), a secondary
    // without --primary learns where the primary is.
    private static async Task<(PairCoordinator?, PairCoordinator.Claim, NodeOptions)> CoordinateStartAsync(NodeOptions options, ITransport transport, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        if (options.Coordinator is not { } settings)
        {
            return (null, default, options);
        }

        var coordinator = new PairCoordinator(settings, options.TimeProvider, loggers.CreateLogger("MirrorKv.Coordinator"));
        try
        {
            IPEndPoint me = options.AdvertisedEndPoint ?? options.ListenEndPoint;
            if (options.Role == NodeRole.Primary)
            {
                await WaitForHolderAsync(coordinator, transport, me, options, loggers.CreateLogger("MirrorKv.Coordinator"), cancellationToken).ConfigureAwait(false);
                PairCoordinator.Claim claim = await UntilEtcdAnswersAsync(() => coordinator.TryLeadAsync(me, null, mustBeInSync: false, cancellationToken), options.TimeProvider, cancellationToken).ConfigureAwait(false);
                for (int wait = 0; !claim.Won && claim.Holder is { } holder && holder.EndPoint.Equals(me) && wait < 50; wait++)
                {
                    // Our own earlier incarnation's key (killed a moment ago): it goes when its lease does.
                    await Task.Delay(TimeSpan.FromMilliseconds(100), options.TimeProvider, cancellationToken).ConfigureAwait(false);
                    claim = await coordinator.TryLeadAsync(me, null, mustBeInSync: false, cancellationToken).ConfigureAwait(false);
                }

                if (!claim.Won)
                {
                    throw claim.Holder is { } leader ? new LeaderElsewhereException(leader) : new InvalidOperationException("etcd did not grant the leader key");
                }

                return (coordinator, claim, options with { InitialEpoch = claim.Epoch });
            }

            if (options.PrimaryEndPoint is null)
            {
                LeaderRecord leader = await UntilEtcdAnswersAsync(() => coordinator.ReadLeaderAsync(cancellationToken), options.TimeProvider, cancellationToken).ConfigureAwait(false)
                    ?? throw new InvalidOperationException($"etcd names no primary for pair '{settings.PairName}' yet: start one with --role primary");
                options = options with { PrimaryEndPoint = leader.EndPoint };
            }

            return (coordinator, default, options);
        }
        catch (EtcdUnavailableException e)
        {
            // Public callers (serve) get a start failure they know, with what to check, not an internal type.
            await coordinator.DisposeAsync().ConfigureAwait(false);
            throw new InvalidOperationException($"the coordinator did not answer for {StartEtcdPatience.TotalSeconds:F0} s: is etcd running at {string.Join(",", settings.EndPoints.Select(u => u.GetLeftPart(UriPartial.Authority)))}?", e);
        }
        catch
        {
            await coordinator.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// A process started as primary holds nothing. Where etcd records another node as holding every write the pair
    /// acknowledged (the in-sync key: the secondary of the primary this process replaces, or a primary elsewhere), it
    /// must not take the lead, or that node would follow it and copy its empty store over the only full one: it
    /// waits until that node leads (then joins it, through <see cref="LeaderElsewhereException"/>), or until the node
    /// is provably gone (its endpoint refuses connections: its process, and its memory, are gone), and only then
    /// claims. A paused node or one behind a cut link still accepts connections, or does not answer: it is waited for.
    /// </summary>
    private static async Task WaitForHolderAsync(PairCoordinator coordinator, ITransport transport, IPEndPoint me, NodeOptions options, ILogger log, CancellationToken cancellationToken)
    {
        long since = options.TimeProvider.GetTimestamp(), lastLog = 0;
        while (true)
        {
            InSyncRecord? record = await UntilEtcdAnswersAsync(() => coordinator.ReadInSyncAsync(cancellationToken), options.TimeProvider, cancellationToken).ConfigureAwait(false);
            if (record?.OtherThan(me) is not { } holder)
            {
                return;
            }

            // A leader elsewhere is joined, unless nothing listens there: its process died and its etcd lease has not
            // run out yet. Its key goes with the lease (a second or two); the record then says who holds the writes.
            LeaderRecord? leader = await UntilEtcdAnswersAsync(() => coordinator.ReadLeaderAsync(cancellationToken), options.TimeProvider, cancellationToken).ConfigureAwait(false);
            if (leader is not null && !leader.EndPoint.Equals(me))
            {
                if (!(await NodeProbe.AskOrRefusedAsync(transport, leader.EndPoint, options.Secret, TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false)).Refused)
                {
                    throw new LeaderElsewhereException(leader);
                }

                await Task.Delay(TimeSpan.FromMilliseconds(200), options.TimeProvider, cancellationToken).ConfigureAwait(false);
                continue;
            }

            ((NodeRole Role, ulong Epoch)? answer, bool refused) = await NodeProbe.AskOrRefusedAsync(transport, holder, options.Secret, TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            if (refused)
            {
                LogHolderGone(log, holder.ToString(), record.ToString());
                return;
            }

            if (lastLog == 0 || options.TimeProvider.GetElapsedTime(lastLog) > TimeSpan.FromSeconds(5))
            {
                lastLog = options.TimeProvider.GetTimestamp();
                LogWaitingForHolder(log, record.ToString(), holder.ToString(), answer is { } a ? $"it answers as {a.Role.ToString().ToLowerInvariant()} at epoch {a.Epoch}" : "it does not answer (paused, or cut off)",
                    options.TimeProvider.GetElapsedTime(since).TotalSeconds);
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), options.TimeProvider, cancellationToken).ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "not leading: etcd records {Record} as holding every write the pair acknowledged, and this process starts empty; waiting for {Holder} to lead, to join it as secondary ({State}; {Seconds:F0} s so far). If that node is gone for good with its memory, its writes are lost: stop it for good (nothing listening at its endpoint) and this node starts over")]
    private static partial void LogWaitingForHolder(ILogger logger, string record, string holder, string state, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "starting over: etcd records {Record} as holding every acknowledged write, and nothing listens at {Holder} (its process is gone, and its memory with it)")]
    private static partial void LogHolderGone(ILogger logger, string holder, string record);

    private void WatchWitness(PairCoordinator.Claim claim)
    {
        if (_coordinator is not { } coordinator)
        {
            return;
        }

        _lease.UseWitness();
        coordinator.Renewed += OnWitnessRenewed;
        coordinator.Lost += OnWitnessLost;
        if (claim.Won)
        {
            _lease.RenewWitness(claim.Stamp, claim.Ttl);
        }
    }

    private void OnWitnessRenewed(long stamp, TimeSpan ttl)
    {
        _lease.RenewWitness(stamp, ttl);
        if (_fence != FenceKind.LeaseLapsed)
        {
            return;
        }

        // etcd still has our lease, so nobody else holds the leader key: no promotion happened.
        lock (_haLock)
        {
            (NodeRole role, ulong epoch) = _role.Current;
            if (_fence == FenceKind.LeaseLapsed && role == NodeRole.Fenced && _lease.IsValid)
            {
                Unfence(epoch, "etcd renewed this node's lease: nobody took over");
            }
        }
    }

    // etcd let our lease go (an outage longer than the TTL, or a secondary that revoked it after a reset): the
    // echo may still keep us serving; take the key back under the same epoch unless someone else has it.
    private void OnWitnessLost()
    {
        _lease.LoseWitness();
        if (Interlocked.Exchange(ref _reclaiming, 1) == 0)
        {
            _ = ReclaimAsync();
        }
    }

    private async Task ReclaimAsync()
    {
        try
        {
            while (_coordinator is { } coordinator && Role is NodeRole.Primary or NodeRole.Fenced && _fence != FenceKind.Replaced)
            {
                try
                {
                    PairCoordinator.Claim claim = await coordinator.TryLeadAsync(AdvertisedEndPoint, Epoch, mustBeInSync: false, CancellationToken.None).ConfigureAwait(false);
                    if (claim.Won)
                    {
                        return;
                    }

                    if (claim.Holder is null && claim.Epoch <= Epoch)
                    {
                        // Nobody holds the key and nobody went above this epoch: the claim raced a lease
                        // expiring; try again.
                        await Task.Delay(TimeSpan.FromMilliseconds(100), _time).ConfigureAwait(false);
                        continue;
                    }

                    FenceReplaced($"etcd names {(claim.Holder?.ToString() ?? $"epoch {claim.Epoch}")} as the pair's primary now", claim.Holder?.EndPoint ?? Volatile.Read(ref _secondaryEndPoint));
                    return;
                }
                catch (EtcdException)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(500), _time).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            Volatile.Write(ref _reclaiming, 0);
        }
    }

    // The secondary lost its primary (a reset, silence, or a primary fenced for too long): it promotes only
    // by winning the leader key. After a reset the old primary's process is taken to be gone (as in pair mode)
    // and its etcd lease is revoked, so the failover does not wait for the TTL.
    //
    // etcd grants the key once the primary's etcd lease is gone, but the primary also serves on the lease this
    // secondary renews with its echo. So from the first claim on, the echo is withheld (it keeps the last stamp
    // taken up before), and no claim is sent until that stamp is PromoteAfter old: when the claim wins, no
    // lease this node granted still runs (the same margin as a promotion in pair mode). Without that, a primary
    // resuming from a pause just as its etcd lease expired was renewed by the echo and served on while etcd
    // made this node primary. The echo resumes when the takeover is given up.
    private async Task TakeOverAsync(string reason, bool reset)
    {
        if (Interlocked.Exchange(ref _takingOver, 1) != 0)
        {
            return;
        }

        SecondaryLink? withheldOn = _link;
        withheldOn?.WithholdRenewal(true);

        // Started by the primary's silence: hearing it again ends the takeover, whatever its heartbeats say (a
        // primary back from a pause says fenced until it is renewed, and only our echo or etcd renews it).
        // Started because the primary stayed fenced: only its saying primary again does (it hears us one way).
        bool startedBySilence = !reset && withheldOn is { Silence: var silence } && silence >= Options.PromoteAfter;
        bool promoted = false;
        try
        {
            bool revoked = false;
            InSyncRecord? excludedBy = null;

            // etcd out for minutes would otherwise be ten lines a second: the first, then one every 5 s with a count.
            long lastWaitLine = 0;
            int unlogged = 0;
            long lastInSyncRead = 0;
            while (_coordinator is { } coordinator && _link is { } link && Role == NodeRole.Secondary)
            {
                if (link.Dropped || link.Diverged)
                {
                    // The primary dropped this node and acknowledges writes alone, or this copy stopped following
                    // the stream: it lacks writes and must rejoin, never take over, even if the key comes free
                    // (the primary gave it up to revive, or its etcd lease lapsed) before the rejoin is done.
                    LogTakeOverAbandoned(link.Dropped ? "the primary dropped this node and acknowledges writes alone" : "this secondary stopped following the stream");
                    return;
                }

                if (!reset && link.IsConnected && link.Silence < Options.PromoteAfter && (startedBySilence || link.PrimaryFencedFor == TimeSpan.Zero))
                {
                    LogTakeOverCancelled();
                    return;
                }

                if (!reset && link.SinceEchoedStamp < Options.PromoteAfter)
                {
                    // A lease granted by an echo just before the takeover began may still run.
                    await Task.Delay(TimeSpan.FromMilliseconds(100), _time).ConfigureAwait(false);
                    continue;
                }

                try
                {
                    ulong epoch = Epoch;
                    // The primary's etcd lease is revoked only for a takeover etcd would allow: a primary that
                    // dropped this node may be alive and acknowledging alone, and must keep its key.
                    if (reset && !revoked
                        && await coordinator.ReadInSyncAsync(CancellationToken.None).ConfigureAwait(false) is var inSync && (inSync is null || inSync.Names(AdvertisedEndPoint))
                        && await coordinator.ReadLeaderAsync(CancellationToken.None).ConfigureAwait(false) is { } old && old.Epoch == epoch && !old.EndPoint.Equals(AdvertisedEndPoint))
                    {
                        await coordinator.RevokeAsync(old, CancellationToken.None).ConfigureAwait(false);
                        revoked = true;
                    }

                    PairCoordinator.Claim claim = await coordinator.TryLeadAsync(AdvertisedEndPoint, null, mustBeInSync: true, CancellationToken.None).ConfigureAwait(false);
                    if (claim.Won)
                    {
                        lock (_haLock)
                        {
                            if (Role == NodeRole.Secondary && !link.Dropped && !link.Diverged)
                            {
                                PromoteLocally(claim.Epoch, $"{reason}; won the leader key in etcd");
                                promoted = true;
                            }
                        }

                        if (!promoted)
                        {
                            // Dropped (or stopped) while the claim was on its way: give the key back at once.
                            await coordinator.ResignAsync().ConfigureAwait(false);
                        }

                        return;
                    }

                    if (claim.Holder is { } holder && holder.Epoch > epoch)
                    {
                        // Someone else leads under a newer epoch: follow it.
                        RequestRejoin(holder.EndPoint);
                        return;
                    }

                    if (claim.NotInSync is { } record)
                    {
                        // The primary went on alone without this node (a drop that never reached it): its copy
                        // lacks acknowledged writes. No takeover: the pair waits for the primary to come back,
                        // as Kafka waits for an in-sync replica rather than elect an unclean leader.
                        if (excludedBy != record)
                        {
                            LogNotInSync(record.ToString());
                            excludedBy = record;
                        }

                        if (await RejoinIfDroppedAsync(record, epoch).ConfigureAwait(false))
                        {
                            return;
                        }

                        await Task.Delay(TimeSpan.FromSeconds(1), _time).ConfigureAwait(false);
                        continue;
                    }

                    if (claim.Holder is { } current && current.Epoch == epoch && !current.EndPoint.Equals(AdvertisedEndPoint)
                        && (lastInSyncRead == 0 || _time.GetElapsedTime(lastInSyncRead) >= TimeSpan.FromSeconds(1)))
                    {
                        // The primary still holds its key. Once a second: has it gone on without this node?
                        lastInSyncRead = _time.GetTimestamp();
                        if (await coordinator.ReadInSyncAsync(CancellationToken.None).ConfigureAwait(false) is { } withoutThisNode && !withoutThisNode.Names(AdvertisedEndPoint)
                            && await RejoinIfDroppedAsync(withoutThisNode, epoch).ConfigureAwait(false))
                        {
                            return;
                        }
                    }
                }
                catch (EtcdException e)
                {
                    if (lastWaitLine == 0 || _time.GetElapsedTime(lastWaitLine) >= TakeOverWaitLogInterval)
                    {
                        LogTakeOverWaiting(e.Message, unlogged);
                        lastWaitLine = _time.GetTimestamp();
                        unlogged = 0;
                    }
                    else
                    {
                        unlogged++;
                    }
                }

                // The old primary's etcd lease has not expired yet (or etcd is out): no promotion until it has.
                await Task.Delay(TimeSpan.FromMilliseconds(100), _time).ConfigureAwait(false);
            }
        }
        finally
        {
            if (!promoted)
            {
                withheldOn?.WithholdRenewal(false);
            }

            Volatile.Write(ref _takingOver, 0);
        }
    }

    /// <summary>
    /// Etcd's in-sync key (<paramref name="record"/>) says its primary acknowledges writes without this node. If
    /// that primary answers as one, it dropped this node, and this node's link will carry nothing more: a cut that
    /// drops packets kept the drop (and the close after it) from it, and TCP delivers them only at its next
    /// retransmission, tens of seconds after a long cut heals (an operator's experiment: unprotected for 24 s
    /// after the heal). So it rejoins now; true when it does. Silence or a refusal proves nothing: it waits.
    /// </summary>
    private async Task<bool> RejoinIfDroppedAsync(InSyncRecord record, ulong epoch)
    {
        if (_transport is not { } transport || record.Epoch < epoch
            || await NodeProbe.AskAsync(transport, record.Leader, Options.Secret, TimeSpan.FromMilliseconds(300), CancellationToken.None).ConfigureAwait(false) is not { Role: NodeRole.Primary } answer
            || answer.Epoch != record.Epoch)
        {
            return false;
        }

        LogDroppedByLivePrimary(record.Leader.ToString());
        RequestRejoin(record.Leader);
        return true;
    }

    /// <summary>
    /// A fenced node found no leader in etcd at all (both nodes were lost) and won the key itself: it serves
    /// again with what it holds, under the epoch etcd granted.
    /// </summary>
    internal bool TryReviveAsLeader(PairCoordinator.Claim claim)
    {
        lock (_haLock)
        {
            if (Role != NodeRole.Fenced || !claim.Won)
            {
                return false;
            }

            _lease.RenewWitness(claim.Stamp, claim.Ttl);
            _lease.MakeUnlimited();
            Unfence(claim.Epoch, "etcd names no primary and granted this node the leader key");
            return true;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "the primary is back: no takeover")]
    private partial void LogTakeOverCancelled();

    [LoggerMessage(Level = LogLevel.Warning, Message = "no takeover: {Why}; this node rejoins")]
    private partial void LogTakeOverAbandoned(string why);

    [LoggerMessage(Level = LogLevel.Error, Message = "no takeover: etcd records {Record} in sync, not this node (the primary acknowledged writes without it); waiting for the primary to come back")]
    private partial void LogNotInSync(string record);

    [LoggerMessage(Level = LogLevel.Warning, Message = "the primary {Primary} serves without this node (etcd's in-sync key and its own answer say so): it dropped this node, whose link has not told it yet; rejoining it")]
    private partial void LogDroppedByLivePrimary(string primary);

    private static readonly TimeSpan TakeOverWaitLogInterval = TimeSpan.FromSeconds(5);

    [LoggerMessage(Level = LogLevel.Warning, Message = "cannot take over yet: {Problem} ({Unlogged} more attempts failed since the last such line; asking etcd every 100 ms)")]
    private partial void LogTakeOverWaiting(string problem, int unlogged);
}
