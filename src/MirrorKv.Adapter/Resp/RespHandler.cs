using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using MirrorKv.Protocol;
using MirrorKv.Transport;
using Microsoft.Extensions.Logging;

namespace MirrorKv.Adapter.Resp;

/// <summary>
/// The node's RESP port: redis clients (redis-cli, StackExchange.Redis, ...) read and write the same store as
/// MirrorKv's clients, on the same event loops. A write through RESP is a write like any other: the primary's
/// store writes it, the replication stream carries it with its primary address, and in sync mode its reply
/// waits for the secondary. Requests are parsed from the receive buffer and replies encoded into the send
/// queue; GET and SET allocate nothing.
/// </summary>
/// <remarks>Callbacks run on the connection's receive thread (an event loop), one request at a time.</remarks>
internal sealed partial class RespHandler : IStreamHandler
{
    private readonly MirrorKvNode _node;
    private readonly AckWaiters _waiters;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<IConnection, RespSession> _open = new();
    private readonly RespLimits _limits;
    private readonly long _hardOutputLimit;
    private long _nextClientId;

    private readonly bool _sentinel;

    /// <param name="node">The node served.</param>
    /// <param name="waiters">The node's ack waiters (writes through RESP wait for the secondary like any).</param>
    /// <param name="logger">The node's log.</param>
    /// <param name="sentinel">
    /// True for the sentinel port (<see cref="NodeOptions.SentinelListenEndPoint"/>): it answers as a redis
    /// Sentinel does (INFO says redis_mode:sentinel, ROLE says sentinel) and serves the connection, server and
    /// SENTINEL commands only, so that a client library tells it from the data port as it tells a sentinel
    /// from a redis server.
    /// </param>
    public RespHandler(MirrorKvNode node, AckWaiters waiters, ILogger logger, bool sentinel = false)
    {
        _node = node;
        _sentinel = sentinel;
        _waiters = waiters;
        _logger = logger;
        NodeOptions options = node.Options;
        _limits = new RespLimits((int)options.MaxFrameSize, Math.Max(node.Store.Options.EffectiveMaxValueLength, node.Store.Options.MaxKeyLength));

        // As redis's client-output-buffer-limit: past the send queue's limit (where receives stop) a reply may
        // still come, but no connection makes the node hold more than this for it.
        _hardOutputLimit = options.SendQueueLimit + (4L * options.MaxFrameSize);
    }

    /// <summary>Open RESP connections.</summary>
    public int ConnectionCount => _open.Count;

    /// <summary>Commands served so far (summed at each batch's end, as INFO's total_commands_processed).</summary>
    public long CommandCount => Interlocked.Read(ref _commands);

    public ICollection<IConnection> OpenConnections => _open.Keys;

    // Totals since start, for INFO stats.
    private long _connectionsReceived;
    private long _connectionsRejected;
    private long _commands;
    private long _hits;
    private long _misses;
    private long _bytesIn;

    /// <summary>
    /// A connection that has not authenticated yet (the node has a secret) may send only this, as redis 7 bounds its
    /// unauthenticated clients: requests of at most 10 arguments of at most 16 KiB (AUTH and HELLO need far less).
    /// Else a client that never knew the secret could make the node buffer a request of the full value size on each
    /// of its connections, and the memory such buffers took was not given back.
    /// </summary>
    internal static readonly RespLimits UnauthenticatedLimits = new(MaxRequestBytes: 192 * 1024, MaxBulkLength: 16 * 1024, MaxArguments: 10, MaxInlineLength: 16 * 1024);

    private RespLimits LimitsFor(RespSession session) => session.Authenticated ? _limits : UnauthenticatedLimits;

    public void OnOpened(IConnection connection)
    {
        // Until the session says otherwise (below): a connection refused here is bounded as a stranger's.
        connection.MaxFrameSize = (uint)UnauthenticatedLimits.MaxRequestBytes;
        if (_open.Count >= _node.Options.MaxConnections)
        {
            // redis's answer at maxclients; no state, so nothing that still arrives is served.
            Interlocked.Increment(ref _connectionsRejected);
            Interlocked.Increment(ref _node.Counters.ConnectionsRefused);
            try
            {
                ReadOnlySpan<byte> refusal = "-ERR max number of clients reached\r\n"u8;
                refusal.CopyTo(connection.BeginPostBytes(refusal.Length));
                connection.EndPostBytes(refusal.Length);
                connection.CloseAfterFlush();
            }
            catch (ConnectionClosedException)
            {
            }

            return;
        }

        Interlocked.Increment(ref _connectionsReceived);
        var output = new RespOutput(connection, _node.Options.SendQueueLimit, _hardOutputLimit);
        var session = new RespSession(Interlocked.Increment(ref _nextClientId), output, authenticated: _node.Options.Secret is null);
        connection.MaxFrameSize = (uint)LimitsFor(session).MaxRequestBytes;
        connection.State = session;
        connection.SendQueueLimit = _node.Options.SendQueueLimit;
        _open.TryAdd(connection, session);
    }

    public void OnBatchStart(IConnection connection)
    {
        // As on the native port: a primary whose lease ran out fences before it serves anything of this batch.
        _node.CheckLease();
        if (connection.State is RespSession session)
        {
            session.BatchAsPrimary = _node.Role == NodeRole.Primary;
            session.ServedAsPrimary |= session.BatchAsPrimary;

            // Once per batch, not per command: a clock read costs as much as serving a GET on this VM.
            session.LastCommandAt = Stopwatch.GetTimestamp();
        }
    }

    public int OnRequest(IConnection connection, ReadOnlySpan<byte> data, out int needed)
    {
        needed = 0;
        if (connection.State is not RespSession session || session.Closing)
        {
            return 0;
        }

        if (session.DiscardingSince != 0)
        {
            // After a protocol error: what the client still sends is read and dropped (see below).
            return data.Length;
        }

        bool authenticated = session.Authenticated;
        RespParseStatus status = RespParser.TryParse(data, LimitsFor(session), ref session.Arguments, ref session.InlineLine, out int count, out int consumed, out needed, out string? error, out bool inline);
        if (status == RespParseStatus.Incomplete)
        {
            return 0;
        }

        if (status == RespParseStatus.Error)
        {
            // As redis: the error, then the connection closes, since what follows cannot be delimited any more.
            // Not at once: closing a socket with unread bytes resets it, and a reset can destroy the error reply
            // before the client reads it (a client still sending a huge bulk would only see "connection reset").
            // So what else arrives is dropped, and the guard closes the connection a moment later.
            if (!authenticated)
            {
                error = $"unauthenticated request too large ({error}): AUTH first; until then a request may have at most {UnauthenticatedLimits.MaxArguments} arguments of {UnauthenticatedLimits.MaxBulkLength} bytes";
            }

            session.Output.Error($"ERR Protocol error: {error}");
            session.DiscardingSince = Stopwatch.GetTimestamp();
            LogProtocolError(connection.RemoteEndPoint.ToString() ?? "?", error!);
            return data.Length;
        }

        if (count > 0 && IsCheckpoint(session, consumed))
        {
            if (Stopwatch.GetElapsedTime(session.LastCommandAt) > TurnBudget)
            {
                // Served long enough in this turn: the request stays buffered, and is served after the others.
                YieldTurn(session);
                return 0;
            }

            if (session.BatchAsPrimary && _node.WhenBacklogApplied(connection) is { } applied)
            {
                // The secondary is a good part of a lease behind (a burst of large values): this connection's input
                // waits until it has applied what was written so far.
                connection.HoldReceivesUntil(applied);
                return 0;
            }
        }

        if (count > 0)
        {
            // An inline command's arguments were decoded into the session's line; an array's are in the buffer.
            ReadOnlySpan<byte> arguments = inline ? session.InlineLine : data;
            if (_sentinel)
            {
                // A +switch-master message may be posted from the notifier's thread: never inside this reply.
                lock (session.PushLock)
                {
                    Execute(session, new RespRequest(arguments, session.Arguments, count));
                }
            }
            else
            {
                Execute(session, new RespRequest(arguments, session.Arguments, count));
            }

            session.ReturnBuffers();
            if (!authenticated && session.Authenticated)
            {
                connection.MaxFrameSize = (uint)LimitsFor(session).MaxRequestBytes;
            }

            if (session.RunAgain)
            {
                // Counted once, on the turn that ends it.
                session.RunAgain = false;
                session.BatchCommands--;
                YieldTurn(session, untilAcked: _node.Stream.LastLsn);
                return 0;
            }

            // Any other end of the request (FLUSHDB's or KEYS's last turn, or its next turn refused) ends a flush or a
            // listing in progress, and a wait for room.
            session.Flushing = false;
            session.WaitedForRoom = false;
            if (session.Listing)
            {
                session.EndListing();
            }
        }

        session.BatchBytesIn += consumed;
        return consumed;
    }

    /// <summary>
    /// How long one connection's batch may hold its thread before it gives the turn back. A batch runs to its end
    /// on the event loop, and the primary's lease is checked at its end: a pipelined burst or a FLUSHDB of a
    /// million keys that ran for a second took the lease with it (the node fenced, the secondary took over).
    /// </summary>
    internal static readonly TimeSpan TurnBudget = TimeSpan.FromMilliseconds(10);

    // A clock read costs about a GET: the turn's time and the secondary's backlog are looked at every 128 requests,
    // and before any large one.
    private static bool IsCheckpoint(RespSession session, int requestBytes) =>
        (session.BatchCommands & 127) == 127 || requestBytes > 64 * 1024;

    // The rest of this connection's input waits for a thread-pool turn: the loop serves its other connections, the
    // batch ends (its replies and replication records leave, the lease is checked), and the next one starts. A
    // command that runs in turns waits until the secondary applied what it wrote so far (see AckTurn); any other
    // batch waits, while the secondary reads slower than clients write, until it has caught up.
    private void YieldTurn(RespSession session, ulong untilAcked = 0)
    {
        Task? next = null;
        if (untilAcked != 0 && _node.Options.Replication == ReplicationMode.Sync && _node.Stream.Peer is not null)
        {
            var turn = new AckTurn(session.Connection);
            if (_waiters.TryWait(untilAcked, turn))
            {
                next = turn.Due;
            }
        }
        else if (_node.Stream.Peer is { IsCongested: true } peer)
        {
            next = peer.WhenDrained();
        }

        session.Connection.HoldReceivesUntil(next ?? Task.Run(static () => { }));
    }

    public void OnBatchEnd(IConnection connection)
    {
        if (connection.State is not RespSession session)
        {
            connection.Flush();
            return;
        }

        FlushTallies(session);
        if (session.BatchAsPrimary && (!_node.CheckLease() || _node.Role != NodeRole.Primary))
        {
            // The lease ran out while this batch was served (the process stood still in the middle of it): what
            // it read may be stale, so none of its replies leave. The client sees a closed connection.
            connection.Abort(new TimeoutException("the primary's lease ran out while serving this RESP batch"));
            return;
        }

        // Writes in this batch posted REPLICATE records. They leave once the event loop has served every client
        // that was ready with this one, in one write for all of them, as redis writes its replicas' streams once
        // per event loop turn: with many clients at pipeline 1 this saves a send on the primary, and a receive
        // and an ack on the secondary, per write. The replies (those not waiting for the ack) leave now.
        _node.Stream.FlushAfterDelivery();
        connection.Flush();
    }

    public void OnClosed(IConnection connection, Exception? error)
    {
        if (_open.TryRemove(connection, out RespSession? session))
        {
            FlushTallies(session);
        }

        if (error is not null)
        {
            // A handler's own failure (a bug) carries the cause inside: log it whole.
            LogClosed(connection.RemoteEndPoint.ToString() ?? "?", error.InnerException is { } cause ? $"{error.Message} {cause}" : error.Message);
        }
    }

    private void FlushTallies(RespSession session)
    {
        AddAndClear(ref session.BatchCommands, ref _commands);
        AddAndClear(ref session.BatchHits, ref _hits);
        AddAndClear(ref session.BatchMisses, ref _misses);
        AddAndClear(ref session.BatchBytesIn, ref _bytesIn);
    }

    private static void AddAndClear(ref long tally, ref long total)
    {
        if (tally != 0)
        {
            Interlocked.Add(ref total, tally);
            tally = 0;
        }
    }

    // One request: find the command, check it may run here and now, run it.
    private void Execute(RespSession session, in RespRequest request)
    {
        RespOutput output = session.Output;
        RespCommandInfo? command = RespCommandTable.Find(request[0]);
        session.BatchCommands++;
        if (command is null || (_sentinel ? !ServedBySentinel(command.Kind) : IsPubSub(command.Kind)))
        {
            output.Error(UnknownCommand(request));
            return;
        }

        if (!command.AcceptsArgumentCount(request.Count))
        {
            output.Error($"ERR wrong number of arguments for '{command.Name}' command");
            return;
        }

        if (!session.Authenticated && command.Kind is not (RespCommandKind.Auth or RespCommandKind.Hello or RespCommandKind.Quit))
        {
            output.Error("NOAUTH Authentication required.");
            return;
        }

        if (session.Channels.Count + session.Patterns.Count > 0 && !output.Resp3 && !AllowedWhileSubscribed(command.Kind))
        {
            output.Error($"ERR Can't execute '{command.Name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context");
            return;
        }

        session.LastCommand = command.Name;
        if (command.FirstKey != 0 && _node.Cluster is { } cluster)
        {
            // A keyed write is counted in flight from its check until its entry is in the store, as on the native
            // port, so that a moving slot's export waits for it (WriteDrain).
            bool write = command.Access == RespCommandAccess.Write;
            int token = write ? cluster.EnterWrite() : 0;
            try
            {
                if (RoutedHere(cluster, command, request, output))
                {
                    Run(session, command, request);
                }
            }
            finally
            {
                if (write)
                {
                    cluster.ExitWrite(token);
                }
            }

            return;
        }

        Run(session, command, request);
    }

    private void Run(RespSession session, RespCommandInfo command, in RespRequest request)
    {
        if (!MayRun(command.Access, session))
        {
            return;
        }

        Dispatch(session, command.Kind, request);
        if (session.AwaitedLsn != 0)
        {
            ReleaseWhenAcked(session);
        }
    }

    private void Dispatch(RespSession session, RespCommandKind kind, in RespRequest request)
    {
        switch (kind)
        {
            case RespCommandKind.Get: Get(session, request); break;
            case RespCommandKind.Set: Set(session, request); break;
            case RespCommandKind.SetEx: SetEx(session, request, 1000); break;
            case RespCommandKind.PSetEx: SetEx(session, request, 1); break;
            case RespCommandKind.SetNx: SetNx(session, request); break;
            case RespCommandKind.GetSet: GetSet(session, request); break;
            case RespCommandKind.GetDel: GetDel(session, request); break;
            case RespCommandKind.GetEx: GetEx(session, request); break;
            case RespCommandKind.MGet: MGet(session, request); break;
            case RespCommandKind.MSet: MSet(session, request); break;
            case RespCommandKind.Incr: IncrBy(session, request, 1, fromArgument: false); break;
            case RespCommandKind.Decr: IncrBy(session, request, -1, fromArgument: false); break;
            case RespCommandKind.IncrBy: IncrBy(session, request, 1, fromArgument: true); break;
            case RespCommandKind.DecrBy: IncrBy(session, request, -1, fromArgument: true); break;
            case RespCommandKind.StrLen: StrLen(session, request); break;
            case RespCommandKind.IncrByFloat: IncrByFloat(session, request); break;
            case RespCommandKind.Append: WriteRange(session, request, append: true); break;
            case RespCommandKind.SetRange: WriteRange(session, request, append: false); break;
            case RespCommandKind.GetRange: GetRange(session, request); break;
            case RespCommandKind.Del or RespCommandKind.Unlink: Del(session, request); break;
            case RespCommandKind.Exists or RespCommandKind.Touch: Exists(session, request); break;
            case RespCommandKind.Expire: Expire(session, request, 1000); break;
            case RespCommandKind.PExpire: Expire(session, request, 1); break;
            case RespCommandKind.ExpireAt: Expire(session, request, 1000, absolute: true); break;
            case RespCommandKind.PExpireAt: Expire(session, request, 1, absolute: true); break;
            case RespCommandKind.Persist: Persist(session, request); break;
            case RespCommandKind.Ttl: Ttl(session, request, 1000); break;
            case RespCommandKind.PTtl: Ttl(session, request, 1); break;
            case RespCommandKind.Type: TypeOf(session, request); break;
            case RespCommandKind.Time: Time(session); break;
            case RespCommandKind.DbSize: session.Output.Integer(_node.Store.GetStats().Entries); break;
            case RespCommandKind.Scan: Scan(session, request); break;
            case RespCommandKind.Keys: Keys(session, request); break;
            case RespCommandKind.FlushDb: FlushDb(session, request); break;
            case RespCommandKind.Ping when session.Channels.Count + session.Patterns.Count > 0 && !session.Output.Resp3: SubscribedPing(session, request); break;
            case RespCommandKind.Ping: Ping(session, request); break;
            case RespCommandKind.Subscribe: Subscribe(session, request, patterns: false); break;
            case RespCommandKind.PSubscribe: Subscribe(session, request, patterns: true); break;
            case RespCommandKind.Unsubscribe: Unsubscribe(session, request, patterns: false); break;
            case RespCommandKind.PUnsubscribe: Unsubscribe(session, request, patterns: true); break;
            case RespCommandKind.Echo: session.Output.Bulk(request[1]); break;
            case RespCommandKind.Hello: Hello(session, request); break;
            case RespCommandKind.Auth: Auth(session, request); break;
            case RespCommandKind.Quit: Quit(session); break;
            case RespCommandKind.Select: Select(session, request); break;
            case RespCommandKind.Client: Client(session, request); break;
            case RespCommandKind.Info: Info(session, request); break;
            case RespCommandKind.Role when _sentinel: SentinelRole(session); break;
            case RespCommandKind.Role: Role(session); break;
            case RespCommandKind.Command: Command(session, request); break;
            case RespCommandKind.Config: Config(session, request); break;
            case RespCommandKind.Sentinel: Sentinel(session, request); break;
            case RespCommandKind.Cluster: Cluster(session, request); break;
            default: session.Output.Error($"ERR command {kind} is not served"); break;
        }
    }

    // redis's wording, so that tools recognize it: the name and the first arguments, quoted, up to ~128 bytes.
    private static string UnknownCommand(in RespRequest request)
    {
        var text = new StringBuilder("ERR unknown command '").Append(Printable(request[0], 128)).Append("', with args beginning with: ");
        int budget = 128;
        for (int i = 1; i < request.Count && budget > 0; i++)
        {
            string argument = Printable(request[i], budget);
            text.Append('\'').Append(argument).Append("' ");
            budget -= argument.Length + 3;
        }

        return text.ToString();
    }

    /// <summary>Bytes shown in an error: at most <paramref name="max"/> characters, control bytes and non-ASCII as '?'.</summary>
    internal static string Printable(ReadOnlySpan<byte> bytes, int max)
    {
        int length = Math.Min(bytes.Length, Math.Max(max, 0));
        return string.Create(length, bytes[..length].ToArray(), static (span, source) =>
        {
            for (int i = 0; i < span.Length; i++)
            {
                span[i] = source[i] is >= 0x20 and < 0x7f ? (char)source[i] : '?';
            }
        });
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "RESP connection from {Remote} closed: {Reason}")]
    private partial void LogClosed(string remote, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "RESP protocol error from {Remote}: {Reason}; closing")]
    private partial void LogProtocolError(string remote, string reason);
}
