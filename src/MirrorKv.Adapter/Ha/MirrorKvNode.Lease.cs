using System.Diagnostics;
using System.Net;
using MirrorKv.Protocol;
using MirrorKv.Transport;
using Microsoft.Extensions.Logging;

namespace MirrorKv.Adapter;

/// <summary>
/// The primary's lease and fencing: checked before a batch is served and before its replies leave; a primary
/// whose lease ran out stops serving before it handles a single frame, close or timer, and either renews it
/// over a link that never broke or rejoins the current primary as secondary.
/// </summary>
public sealed partial class MirrorKvNode
{
    // Between probes of a lost secondary that failed without an answer or a refusal: a dying process's exit.
    private static readonly TimeSpan ProbeRetryDelay = TimeSpan.FromMilliseconds(5);

    private volatile bool _isPrimary;
    private volatile FenceKind _fence;

    // The link to a secondary that could promote was lost and its endpoint is being asked: until the answer,
    // nothing may give this node an unlimited lease.
    private volatile bool _probing;
    private IPEndPoint? _lostPeer;

    private readonly Lock _rejoinLock = new();
    private Action<MirrorKvNode, IPEndPoint?>? _rejoinNeeded;
    private bool _rejoinPending;
    private IPEndPoint? _rejoinPrimary;

    /// <summary>
    /// Raised (on the thread pool) when this node must rejoin the pair as a secondary, with the node believed to be
    /// primary. A request made before any handler was added (a joining secondary dropped while it still starts) is
    /// kept and raised to the first handler added.
    /// </summary>
    public event Action<MirrorKvNode, IPEndPoint?>? RejoinNeeded
    {
        add
        {
            IPEndPoint? primary;
            lock (_rejoinLock)
            {
                _rejoinNeeded += value;
                if (!_rejoinPending || value is null)
                {
                    return;
                }

                _rejoinPending = false;
                primary = _rejoinPrimary;
            }

            ThreadPool.QueueUserWorkItem(_ => value(this, primary));
        }

        remove
        {
            lock (_rejoinLock)
            {
                _rejoinNeeded -= value;
            }
        }
    }

    private enum FenceKind
    {
        None,

        /// <summary>The lease ran out but the link to the secondary holds: a renewal makes it primary again.</summary>
        LeaseLapsed,

        /// <summary>A newer epoch exists, or may: only rejoining as secondary brings it back.</summary>
        Replaced,

        /// <summary>
        /// Handing over to the secondary (a switchover): no writes or reads are served, the secondary's acks
        /// still release waiting writes, and no echo brings the node back; it ends as Replaced, or serving
        /// again if the secondary did not confirm in time.
        /// </summary>
        Handover,
    }

    /// <summary>
    /// Checks a primary's lease and fences the node when it ran out. Returns true when this node may serve as
    /// primary now (its lease holds, or it went on alone), or is not a primary at all (a secondary's reads
    /// are its own). Called once per batch: a volatile read and, for a primary, a clock read and a compare.
    /// </summary>
    internal bool CheckLease()
    {
        if (!_isPrimary || _lease.IsFresh)
        {
            return true;
        }

        if (_lease.IsValid)
        {
            // Half of it is gone: the heartbeat timer is late (a busy machine). Ask for an echo now rather
            // than let the lease run out under load.
            RequestEcho();
            return true;
        }

        OnLeaseLapsed();
        return !_isPrimary || _lease.IsValid;
    }

    /// <summary>
    /// For the end of a batch that began while this node served as primary: true when its lease (checked, the
    /// node fenced if it ran out) is valid still, so that what the batch read was current when it was read.
    /// False when the lease ran out meanwhile, whoever noticed first: a pause in the middle of the batch, with
    /// a promotion behind this node's back. A fence for another reason (a newer epoch seen) leaves the lease
    /// valid, and the batch's answers, NotPrimary among them, may leave.
    /// </summary>
    internal bool LeaseHeldThroughBatch()
    {
        // The common case costs one clock read, as at the batch's start.
        if (_lease.IsFresh)
        {
            return true;
        }

        CheckLease();
        return _lease.IsValid;
    }

    /// <summary>True while this node's role is primary (a volatile read; the lease is not checked).</summary>
    internal bool IsServingPrimary => _isPrimary;

    private long _lastEchoRequest;

    private void RequestEcho()
    {
        long now = _time.GetTimestamp();
        long last = Volatile.Read(ref _lastEchoRequest);
        if (_time.GetElapsedTime(last, now) < Options.HeartbeatInterval / 4 || Interlocked.CompareExchange(ref _lastEchoRequest, now, last) != last)
        {
            return;
        }

        if (Stream.Peer is { IsOpen: true } peer)
        {
            try
            {
                SendHeartbeat(peer, NodeRole.Primary, Epoch);
            }
            catch (ConnectionClosedException)
            {
            }
        }
    }

    private void OnLeaseLapsed()
    {
        lock (_haLock)
        {
            if (!_isPrimary || _lease.IsValid)
            {
                return;
            }

            if (!_sentProtected && !_probing)
            {
                // The attached secondary was never told the pair is protected, so it cannot promote: drop it
                // and go on alone rather than stop (in pair mode; with a witness, only its lease counts).
                if (Stream.Peer is { } peer)
                {
                    Drop(peer, Epoch, "the joining secondary stopped renewing the lease");
                }

                _lease.MakeUnlimited();
                if (_lease.IsValid)
                {
                    return;
                }
            }

            Fence(FenceKind.LeaseLapsed, $"lease ran out (no echo from the secondary within {Options.LeaseDuration.TotalMilliseconds:F0} ms): it may be cut off and promoting");
        }
    }

    /// <summary>
    /// A client's request carried a newer epoch than this node's. Unless this node is a primary whose secondary
    /// confirms its epoch right now (a valid echo lease: that secondary has not promoted, and the pair has no
    /// other node), it has been replaced: it steps down and rejoins. Returns false when the claim was refused: a
    /// client's word alone, a bug or a forged request, must not fence a primary the pair still follows.
    /// </summary>
    internal bool OnNewerEpochSeen(ulong epoch)
    {
        if (_isPrimary && _lease.EchoValid)
        {
            long now = _time.GetTimestamp();
            long last = Volatile.Read(ref _lastRefusedEpochLog);
            if (last == 0 || _time.GetElapsedTime(last, now) > TimeSpan.FromSeconds(10))
            {
                Volatile.Write(ref _lastRefusedEpochLog, now);
                LogNewerEpochRefused(epoch, Epoch);
            }

            return false;
        }

        FenceReplaced($"a request carried epoch {epoch}, above this node's {Epoch}: this node has been replaced", Volatile.Read(ref _secondaryEndPoint) ?? Options.PrimaryEndPoint);
        return true;
    }

    private long _lastRefusedEpochLog;

    /// <summary>This node has been, or may have been, replaced: fence for good and rejoin <paramref name="primary"/>.</summary>
    private void FenceReplaced(string reason, IPEndPoint? primary)
    {
        lock (_haLock)
        {
            if (_fence == FenceKind.Replaced || Role is not (NodeRole.Primary or NodeRole.Fenced))
            {
                return;
            }

            Fence(FenceKind.Replaced, reason, primary);
            Stream.Peer?.Abort(null);
        }

        RequestRejoin(primary);
    }

    // Under _haLock. A node fenced as replaced remembers the peer it lost: the one it rejoins, or takes back.
    private void Fence(FenceKind kind, string reason, IPEndPoint? lostPeer = null)
    {
        (NodeRole role, ulong epoch) = _role.Current;
        _fence = kind;
        if (kind == FenceKind.Replaced)
        {
            _lostPeer = lostPeer;
        }

        if (role == NodeRole.Primary)
        {
            // No write and no read from here on: the region is withdrawn, so one-sided readers fail over too.
            _role.TransitionTo(NodeRole.Fenced, epoch, $"fenced: {reason}");
            _registry.Withdraw();
            _waiters.FailAll(WireStatus.ReplicationFailed, "the primary fenced itself before the secondary confirmed this write; it may not survive: send it again");
        }
        else
        {
            LogFencedFurther(reason);
        }
    }

    /// <summary>The secondary renewed the lease of a fenced primary over the link it never lost: serve again.</summary>
    private void Resume(IConnection link)
    {
        if (_fence != FenceKind.LeaseLapsed)
        {
            return;
        }

        lock (_haLock)
        {
            (NodeRole role, ulong epoch) = _role.Current;
            if (_fence != FenceKind.LeaseLapsed || role != NodeRole.Fenced || Stream.Peer != link || !link.IsOpen || !_lease.IsValid)
            {
                return;
            }

            Unfence(epoch, "lease renewed by the secondary over the same link: it did not promote");
        }
    }

    // Under _haLock: Fence undone. The region comes back and the node is primary again, at its epoch (its
    // lease was renewed, or its secondary is gone) or, revived, through Promoting under a higher one.
    private void Unfence(ulong epoch, string reason)
    {
        (_, ulong current) = _role.Current;
        _registry.Restore();
        _fence = FenceKind.None;
        _lostPeer = null;
        if (epoch > current)
        {
            _role.TransitionTo(NodeRole.Promoting, epoch, reason);
            reason = $"serving again at LSN {Stream.LastLsn}";
        }

        _role.TransitionTo(NodeRole.Primary, epoch, reason);
    }

    // Under _haLock: writes stand on this node alone from here on (see GoOnAlone).
    private void GoOnAloneNow(string why)
    {
        (NodeRole role, ulong epoch) = _role.Current;
        _lease.MakeUnlimited();
        _waiters.ReleaseAll();
        if (role == NodeRole.Fenced)
        {
            Unfence(epoch, $"going on alone: {why}");
        }

        LogSecondaryLost(why, Stream.LastLsn);
    }

    /// <summary>The link to the secondary closed (reset, close, or this node dropped it).</summary>
    internal void OnSecondaryLost(IConnection connection, Exception? error)
    {
        bool rejoin = false;
        lock (_haLock)
        {
            // Writes are held before the link is detached, so that no write that finds no secondary attached is
            // acknowledged before this node knows it may go on alone: with a witness naming this secondary in
            // sync, until etcd stops naming it; in pair mode, when the secondary was told the pair is
            // protected, until its endpoint is found empty (below). Such a secondary may be alive behind a
            // reset link: it may promote, and it serves hedged reads meanwhile, so a write acknowledged
            // without it would be lost with its promotion and missing from its reads.
            bool held = Stream.Peer == connection && (_coordinator is not null ? _inSyncNamed : _sentProtected);
            if (held)
            {
                _waiters.Hold();
            }

            if (!Stream.Detach(connection))
            {
                if (held && !_clearingInSync)
                {
                    _waiters.Unhold();
                }

                return;
            }

            _peerRole = NodeRole.None;
            (NodeRole role, _) = _role.Current;
            bool couldPromote = _sentProtected;
            _sentProtected = false;
            if (role == NodeRole.Stopped)
            {
                // This node is shutting down and closed the link itself: nothing to fence, nobody to rejoin.
                if (held)
                {
                    _waiters.Unhold();
                }

                return;
            }

            if (role == NodeRole.Primary && _lease.IsValid && couldPromote && _coordinator is null && _transport is not null && Volatile.Read(ref _secondaryEndPoint) is { } lost)
            {
                // Pair mode: a reset proves nothing by itself (a middlebox, or a close with unread bytes, sends
                // one too). Ask the secondary's endpoint: only if nothing listens there is it gone, and this
                // node goes on alone; if it answers, it may promote, so this node fences and waits to rejoin
                // it (or to take it back when it comes back empty).
                // Meanwhile it serves reads on the lease it holds, which runs out within the lease duration
                // unless the answer comes first, and holds every write (held above).
                _probing = true;
                string reason = error?.Message ?? "closed";
                OffLoop.Log(() => LogProbingLostSecondary(reason, lost.ToString()));
                _ = ProbeLostSecondaryAsync(lost);
                return;
            }

            if (role == NodeRole.Primary && _lease.IsValid || !couldPromote && _fence != FenceKind.Replaced)
            {
                // Its kernel closed the link while our lease held (it had not promoted: it would have announced
                // that first), or it never could promote: it is gone, and this node goes on alone.
                GoOnAlone(error?.Message ?? "closed");
            }
            else if (_fence != FenceKind.Replaced)
            {
                if (role == NodeRole.Primary)
                {
                    _lease.Expire();
                }

                Fence(FenceKind.Replaced, $"lost the secondary ({error?.Message ?? "closed"}) after the lease ran out: it may have promoted", Volatile.Read(ref _secondaryEndPoint));
                rejoin = true;
            }

            if (held && !_clearingInSync)
            {
                // Not going on alone (fenced, replaced): the fence failed what waited; nothing is held for a clear.
                _waiters.Unhold();
            }
        }

        if (rejoin)
        {
            RequestRejoin(Volatile.Read(ref _secondaryEndPoint));
        }
    }

    /// <summary>
    /// A peer asks to join this replaced node as a new, empty secondary from the endpoint of the peer it lost:
    /// that peer's previous incarnation is gone for good, so whatever it was, nobody else can serve. This node
    /// serves again under epoch + 2, above any epoch that incarnation could have promoted itself to. (Writes
    /// it acknowledged alone after such a promotion died with it, as an unprotected primary's writes do.)
    /// </summary>
    private void TryRevive(IPEndPoint? joiner)
    {
        lock (_haLock)
        {
            (NodeRole role, ulong epoch) = _role.Current;
            if (_coordinator is not null || role != NodeRole.Fenced || _fence != FenceKind.Replaced || joiner is null || !joiner.Equals(_lostPeer) || Stream.Peer is { IsOpen: true })
            {
                return;
            }

            _lease.MakeUnlimited();
            Unfence(epoch + 2, $"the lost peer {joiner} came back as a new incarnation and asks to join: its old one is gone");
        }
    }

    private async Task ProbeLostSecondaryAsync(IPEndPoint secondary)
    {
        bool refused = await NothingListensAtAsync(secondary).ConfigureAwait(false);
        bool rejoin = false;
        lock (_haLock)
        {
            _probing = false;
            (NodeRole role, _) = _role.Current;
            if (role is not (NodeRole.Primary or NodeRole.Fenced) || role == NodeRole.Fenced && _fence != FenceKind.LeaseLapsed || Stream.Peer is { IsOpen: true })
            {
                // Replaced or stopped meanwhile (the fence failed the held writes), or a secondary attached
                // (attaching is refused while probing, so only in a race with the start of the probe): its acks
                // release what is held.
                _waiters.Unhold();
                return;
            }

            if (refused)
            {
                // Releases the writes held since the link was lost.
                GoOnAlone($"nothing listens at its endpoint {secondary}");
            }
            else
            {
                // The fence answers the held writes ReplicationFailed ("send it again"): none was acknowledged.
                Fence(FenceKind.Replaced, $"lost the link to the secondary, which still answers at {secondary}: it may promote", secondary);
                _waiters.Unhold();
                rejoin = true;
            }
        }

        if (rejoin)
        {
            RequestRejoin(secondary);
        }
    }

    /// <summary>
    /// Whether the lost secondary's process is gone: its endpoint refuses connections. An answer, or none within
    /// <see cref="NodeOptions.FenceAfter"/> (a paused process: its kernel still accepts), says it lives. A probe that
    /// fails at once without an answer met a process on its way out (its kernel closes the link before its
    /// listening socket, and resets a connection queued there): asked again until refused, answered or out of time,
    /// so that a kill -9 of the secondary does not fence the primary until the secondary comes back.
    /// </summary>
    private async Task<bool> NothingListensAtAsync(IPEndPoint secondary)
    {
        long start = Stopwatch.GetTimestamp();
        while (true)
        {
            TimeSpan left = Options.FenceAfter - Stopwatch.GetElapsedTime(start);
            if (left <= TimeSpan.Zero)
            {
                return false;
            }

            ((NodeRole Role, ulong Epoch)? answer, bool refused) = await NodeProbe.AskOrRefusedAsync(_transport!, secondary, Options.Secret, left, CancellationToken.None).ConfigureAwait(false);
            if (refused || answer is not null)
            {
                return refused;
            }

            await Task.Delay(ProbeRetryDelay).ConfigureAwait(false);
        }
    }

    private void RequestRejoin(IPEndPoint? primary)
    {
        // A replaced node gives up the leader key at once: the other node should not wait for its TTL.
        if (_coordinator is { } coordinator && _fence == FenceKind.Replaced)
        {
            _ = coordinator.ResignAsync();
        }

        LogRejoinNeeded(primary?.ToString() ?? "unknown");
        Action<MirrorKvNode, IPEndPoint?>? handler;
        lock (_rejoinLock)
        {
            handler = _rejoinNeeded;
            if (handler is null)
            {
                // Nobody listens yet (the node is still starting, and its member adds the handler once it has
                // started): kept for the first handler, else the node would wait as Rejoining for good. Seen in
                // chaos: a joining secondary dropped in its first milliseconds never rejoined.
                _rejoinPending = true;
                _rejoinPrimary = primary;
                return;
            }
        }

        ThreadPool.QueueUserWorkItem(_ => handler(this, primary));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "secondary lost ({Reason}) at LSN {Lsn}: the pair is unprotected, writes are acknowledged by the primary alone")]
    private partial void LogSecondaryLost(string reason, ulong lsn);

    [LoggerMessage(Level = LogLevel.Warning, Message = "lost the secondary ({Reason}); asking {EndPoint} whether it is gone before going on alone")]
    private partial void LogProbingLostSecondary(string reason, string endPoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "a client's request carried epoch {Claimed}, but this primary's secondary confirms epoch {Epoch}: refused with StaleEpoch, not fenced (a client with a wrong epoch; logged at most every 10 s)")]
    private partial void LogNewerEpochRefused(ulong claimed, ulong epoch);

    [LoggerMessage(Level = LogLevel.Warning, Message = "stays fenced: {Reason}")]
    private partial void LogFencedFurther(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "this node must rejoin the pair as secondary (the primary is believed to be {Primary})")]
    private partial void LogRejoinNeeded(string primary);
}
