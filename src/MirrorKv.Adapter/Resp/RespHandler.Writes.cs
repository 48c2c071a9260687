using MirrorKv.Protocol;
using Microsoft.Extensions.Logging;

namespace MirrorKv.Adapter.Resp;

/// <summary>
/// Where a command may run, and how a write's reply waits for the secondary: the same rules as the native
/// port's two-sided path, with redis's error names.
/// </summary>
internal sealed partial class RespHandler
{
    /// <summary>The error a secondary gives a write, in redis's words, which clients recognize.</summary>
    internal const string ReadOnlyError = "READONLY You can't write against a read only replica.";

    /// <summary>
    /// True when a command of this kind may run in the node's role now; else it is refused. A secondary
    /// (and a rejoining one) refuses writes with READONLY, which clients take as "find the primary"; a node
    /// that serves nothing for now (fenced, promoting, rejoining for reads, stopping, a secondary that cannot vouch
    /// for holding every acknowledged write) answers LOADING, which clients take as "retry shortly" (redis-py
    /// retries it as a connection error). But a connection this node served as primary is not answered: it
    /// closes once the replies before the command have left, as redis Sentinel closes the clients of a master it
    /// demotes (CLIENT KILL TYPE normal), so that its client asks its sentinels again and sends the command,
    /// which did not run, to the new primary. ioredis, for one, passes LOADING to the application as an error
    /// (a tester counted hundreds per switchover) but resends what a closed connection left unanswered.
    /// </summary>
    private bool MayRun(RespCommandAccess access, RespSession session)
    {
        if (access == RespCommandAccess.None)
        {
            return true;
        }

        // A secondary reads only while it can vouch for holding every acknowledged write, as on the native port
        // (MirrorKvNode.FailoverReads.cs): told the pair is protected, not dropped or diverged, and with a witness
        // while its read lease runs.
        NodeRole role = _node.Role;
        if (access == RespCommandAccess.Write ? role == NodeRole.Primary : role is NodeRole.Primary or NodeRole.Promoting || role == NodeRole.Secondary && _node.HoldsEveryAcknowledgedWrite)
        {
            return true;
        }

        if (session.ServedAsPrimary)
        {
            session.Closing = true;
            session.Output.CloseAfterReplies();
            LogClosedNoLongerPrimary(session.Output.Connection.RemoteEndPoint.ToString() ?? "?", role.ToString());
            return false;
        }

        session.Output.Error(access == RespCommandAccess.Write && role is NodeRole.Secondary or NodeRole.Rejoining ? ReadOnlyError : Loading(role));
        return false;
    }

    internal static string Loading(NodeRole role) => role switch
    {
        NodeRole.Rejoining => "LOADING this node is copying the primary's data before it serves; retry shortly",
        NodeRole.Promoting => "LOADING this node is being promoted to primary; retry shortly",
        NodeRole.Fenced => "LOADING this node is fenced (it may no longer be primary) and rejoins the pair; retry shortly or use the other node",
        NodeRole.Secondary => "LOADING this secondary cannot vouch that it holds every acknowledged write (not told the pair is protected yet, dropped, diverged, or with a coordinator not recorded in sync now): the primary may have acknowledged writes without it; use the primary",
        _ => $"LOADING this node is {role.ToString().ToLowerInvariant()} and serves nothing; use the other node",
    };

    /// <summary>
    /// Called by a command after it changed the store and before it replies: in sync mode with a secondary
    /// attached, its reply and every later reply of the connection wait until the secondary has applied the
    /// last record written so far (which covers this command's records).
    /// </summary>
    private void Changed(RespSession session, bool deleted = false, int count = 1)
    {
        Interlocked.Add(ref deleted ? ref _node.Counters.Deletes : ref _node.Counters.Writes, count);
        if (_node.Options.Replication == ReplicationMode.Sync && (_node.Stream.Peer is not null || _waiters.Holding))
        {
            ulong lsn = _node.Stream.LastLsn;
            session.Output.HoldUntil(lsn);
            session.AwaitedLsn = lsn;
        }

        if (_node.Stream.Peer is { IsCongested: true } peer)
        {
            // The secondary reads slower than clients write: take no more requests until it catches up.
            session.Connection.HoldReceivesUntil(peer.WhenDrained());
        }
    }

    /// <summary>
    /// Called by a read command that answered with a value not yet published (written, its record not yet
    /// acknowledged by the secondary): its reply waits for the ack, as a write's does, so that no RESP reader sees a
    /// value a failover could take back. One-sided readers are kept from it by its odd version.
    /// </summary>
    private void SawUnpublished(RespSession session, bool pending)
    {
        if (pending && _node.Options.Replication == ReplicationMode.Sync)
        {
            ulong lsn = _node.Stream.LastLsn;
            session.Output.HoldUntil(lsn);
            session.AwaitedLsn = lsn;
        }
    }

    // After the command's reply: register for the ack, or release at once when it has come already.
    private void ReleaseWhenAcked(RespSession session)
    {
        ulong lsn = session.AwaitedLsn;
        session.AwaitedLsn = 0;
        if (!_waiters.TryWait(lsn, session.Output))
        {
            session.Output.OnAcked(lsn);
        }
    }

    private void StoreError(RespSession session, Store.StoreStatus status, int keyLength, int valueLength)
    {
        if (status == Store.StoreStatus.OutOfMemory && RunAgainOncePublished(session))
        {
            return;
        }

        session.Output.Error(StoreErrorText(status, keyLength, valueLength));
    }

    // A full store under an evicting policy may hold nothing it may evict yet: an entry whose write waits for the
    // secondary's ack is not evicted (the writer has not heard of it), and a pipeline of large values fills a small store
    // with such entries faster than the acks come (50 SETs of 8 MB into 64 MiB: 7 were refused with OOM). Once the
    // secondary has applied what was written so far they are published and evictable: the request runs again then,
    // once, and only a second refusal reaches the client. A command that failed with OOM changed nothing but the keys
    // before it (MSET), which it writes again with the same values. With nothing waiting for an ack (or the ack come
    // meanwhile), it runs again at once.
    private bool RunAgainOncePublished(RespSession session)
    {
        if (session.WaitedForRoom || _node.Store.Options.Eviction == Store.EvictionPolicy.NoEviction || _node.Options.Replication != ReplicationMode.Sync)
        {
            return false;
        }

        session.WaitedForRoom = true;
        session.RunAgain = true;
        return true;
    }

    private string StoreErrorText(Store.StoreStatus status, int keyLength, int valueLength) => status switch
    {
        Store.StoreStatus.EmptyKey => "ERR empty keys are not supported by MirrorKv",
        Store.StoreStatus.KeyTooLong => $"ERR key of {keyLength} bytes exceeds the limit of {_node.Store.Options.MaxKeyLength}",
        Store.StoreStatus.ValueTooLarge => $"ERR value of {valueLength} bytes (with its expiry) exceeds the limit of {_node.Store.Options.EffectiveMaxValueLength}",
        Store.StoreStatus.OutOfMemory => $"OOM command not allowed: {FullStoreText.For(_node.Store.Options.Eviction)}",
        Store.StoreStatus.ReadOnlySecondary => ReadOnlyError,
        _ => $"ERR {status}",
    };

    [LoggerMessage(Level = LogLevel.Debug, Message = "RESP connection from {Remote} closed unanswered: this node served it as primary and is {Role} now (its client asks its sentinels again)")]
    private partial void LogClosedNoLongerPrimary(string remote, string role);
}
