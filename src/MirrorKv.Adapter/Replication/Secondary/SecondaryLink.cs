using System.Net;
using System.Net.Sockets;
using MirrorKv.Entries;
using MirrorKv.Protocol;
using MirrorKv.Store;
using MirrorKv.Transport;
using Microsoft.Extensions.Logging;

namespace MirrorKv.Adapter;

/// <summary>
/// The secondary's link to the primary: HELLO as a peer adapter, mirror the primary's region, then apply
/// REPLICATE records in LSN order and acknowledge them cumulatively, once per received batch.
/// </summary>
internal sealed partial class SecondaryLink(StoreEngine store, RoleMachine role, NodeOptions options, Action<string> onPrimaryLost, ILogger logger) : IMessageHandler
{
    private TaskCompletionSource<HelloReply> _hello = NewHello();
    private IConnection? _connection;
    private ulong _appliedLsn;
    private ulong _ackedLsn;
    private long _lastFrameTimestamp = options.TimeProvider.GetTimestamp();
    private long _leaseStamp;
    private long _leaseStampHeardAt;
    private long _primaryFencedSince;

    // Guards the echoed stamp against a switch to withholding: once WithholdRenewal(true) returns, no fresh
    // stamp is taken up, and SinceEchoedStamp tells the age of the last one that was.
    private readonly Lock _stampLock = new();
    private bool _withholding;
    private bool _loggedWithheld;
    private volatile bool _sawProtected;
    private volatile bool _dropped;
    private volatile bool _closing;
    private volatile bool _diverged;
    private bool _streamStarted;

    /// <summary>True once the secondary stopped following because it could not apply the stream: it must never be promoted.</summary>
    public bool Diverged => _diverged;

    /// <summary>Time since the primary last sent anything.</summary>
    public TimeSpan Silence => options.TimeProvider.GetElapsedTime(Volatile.Read(ref _lastFrameTimestamp));

    /// <summary>How long the primary's heartbeats have said it is fenced (zero while they say primary).</summary>
    public TimeSpan PrimaryFencedFor
    {
        get
        {
            long since = Volatile.Read(ref _primaryFencedSince);
            return since == 0 ? TimeSpan.Zero : options.TimeProvider.GetElapsedTime(since);
        }
    }

    /// <summary>Time since the stamp this secondary echoes was heard: no lease it granted runs longer than that stamp's.</summary>
    public TimeSpan SinceEchoedStamp => options.TimeProvider.GetElapsedTime(Volatile.Read(ref _leaseStampHeardAt));

    /// <summary>True when the primary said it gives up on this secondary and goes on alone: it must rejoin, never take over.</summary>
    public bool Dropped => _dropped;

    /// <summary>
    /// True once the primary said it counts this secondary as caught up: only from then on may it promote,
    /// since before it the primary goes on alone when this secondary falls silent.
    /// </summary>
    public bool SawProtected => _sawProtected;

    /// <summary>Raised with the primary's LSN when its heartbeat hands the pair over to this node (a switchover).</summary>
    public event Action<ulong>? HandoverOffered;

    /// <summary>The last LSN applied.</summary>
    public ulong AppliedLsn => Volatile.Read(ref _appliedLsn);

    /// <summary>True while the stream from the primary is flowing.</summary>
    public bool IsConnected => _connection is { IsOpen: true };

    /// <summary>The primary's HELLO reply.</summary>
    public HelloReply? Primary { get; private set; }

    /// <summary>
    /// Dials the primary and shakes hands until it accepts this secondary or <see cref="NodeOptions.PrimaryConnectTimeout"/>
    /// passes. A refused connection, a node that is still promoting or still holds the previous secondary's
    /// link (NotPrimary), and a connection closed mid-handshake are tried again every 100 ms: a secondary
    /// restarted in the middle of a failover waits for it to settle instead of exiting.
    /// </summary>
    public async Task ConnectAsync(ITransport transport, IPEndPoint advertised, IPEndPoint? advertisedResp, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.PrimaryConnectTimeout);
        IPEndPoint primary = options.PrimaryEndPoint!;
        Exception? last = null;
        int attempts = 0;
        try
        {
            while (true)
            {
                try
                {
                    Primary = await HandshakeAsync(transport, primary, advertised, advertisedResp, timeout.Token).ConfigureAwait(false);
                    return;
                }
                catch (Exception e) when (e is SocketException or IOException or PrimaryRefusedException { IsTransient: true })
                {
                    if (timeout.IsCancellationRequested)
                    {
                        // The answer came as the time ran out: it is the last one.
                        DropAttempt();
                        throw GiveUp(primary, e);
                    }

                    // Logged when the answer changes and then once a second, not every 100 ms.
                    if (e is not SocketException && (e.Message != last?.Message || ++attempts % 10 == 0))
                    {
                        LogHandshakeRetry(primary.ToString(), e.Message);
                    }

                    last = e;
                    DropAttempt();
                }

                await Task.Delay(100, timeout.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The timeout, during an attempt or between two.
            DropAttempt();
            throw GiveUp(primary, last);
        }
    }

    // Forgets the current attempt's connection first, so that its late frames and its close are ignored.
    private void DropAttempt()
    {
        IConnection? failed = _connection;
        _connection = null;
        failed?.Abort(null);
    }

    private TimeoutException GiveUp(IPEndPoint primary, Exception? last) => last is null or SocketException
        ? new TimeoutException($"The primary at {primary} did not accept a connection within {options.PrimaryConnectTimeout.TotalSeconds:F0} s.", last)
        : new TimeoutException($"The primary at {primary} did not accept this secondary within {options.PrimaryConnectTimeout.TotalSeconds:F0} s; its last answer: {last.Message}", last);

    // One attempt: a fresh connection and a fresh handshake, so that nothing of an earlier attempt's
    // connection (a late frame, its close) can complete this one.
    private async Task<HelloReply> HandshakeAsync(ITransport transport, IPEndPoint primary, IPEndPoint advertised, IPEndPoint? advertisedResp, CancellationToken cancellationToken)
    {
        _hello = NewHello();
        IConnection connection = await transport.ConnectAsync(primary, this, cancellationToken).ConfigureAwait(false);
        var hello = new HelloRequest(PeerKind.Peer, options.MaxFrameSize, advertised) { RespEndPoint = advertisedResp };
        Span<byte> span = connection.BeginPost(Opcode.Hello, WireStatus.Ok, 1, hello.EncodedSize);
        hello.Write(span);
        connection.EndPost();
        connection.Flush();
        return await _hello.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static TaskCompletionSource<HelloReply> NewHello() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Every transport announces a connection here before it can deliver a frame: this makes it the current attempt's.
    public void OnOpened(IConnection connection)
    {
        connection.MaxFrameSize = options.MaxFrameSize;
        _connection = connection;
    }

    public void OnFrame(IConnection connection, in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (connection != _connection)
        {
            // An earlier handshake attempt's connection, closing.
            return;
        }

        Volatile.Write(ref _lastFrameTimestamp, options.TimeProvider.GetTimestamp());
        switch (header.Opcode)
        {
            case Opcode.Heartbeat:
                OnHeartbeat(connection, payload);
                break;
            case Opcode.Hello | Opcode.ReplyBit when header.Status == WireStatus.AuthRequired:
                OnChallenge(connection, payload);
                break;
            case Opcode.Hello | Opcode.ReplyBit or Opcode.Auth | Opcode.ReplyBit:
                OnHelloReply(connection, header, payload);
                break;
            case Opcode.Replicate:
                Apply(connection, header.RequestId, payload);
                break;
            case Opcode.Slabs | Opcode.ReplyBit:
                OnSlabs(connection, header, payload);
                break;
            case Opcode.Read | Opcode.ReplyBit:
                OnSlabCopied(connection, header, payload);
                break;
            case Opcode.ReadLease | Opcode.ReplyBit:
                OnReadLeaseReply(header, payload);
                break;
            case Opcode.Error:
                _hello.TrySetException(new PrimaryRefusedException(header.Status, $"The primary refused this secondary: {header.Status}: {ErrorText.Read(payload)}"));
                break;
            default:
                connection.Fail(WireStatus.UnknownOpcode, $"a secondary's link expects REPLICATE, not opcode 0x{(byte)header.Opcode:x2}");
                break;
        }
    }

    public void OnBatchEnd(IConnection connection)
    {
        ulong applied = _appliedLsn;
        if (applied == _ackedLsn)
        {
            return;
        }

        ReplicateBatch.WriteAck(connection.BeginPost(Opcode.ReplicateAck, WireStatus.Ok, 0, ReplicateBatch.AckSize), applied, role.Current.Epoch);
        connection.EndPost();
        connection.Flush();
        _ackedLsn = applied;
    }

    public void OnClosed(IConnection connection, Exception? error)
    {
        if (connection != _connection)
        {
            return;
        }

        _hello.TrySetException(new IOException("The primary closed the connection during the handshake.", error));
        if (!_hello.Task.IsCompletedSuccessfully)
        {
            return;
        }

        if (_closing)
        {
            // This node closed it (shutting down, or rejoining): nothing was lost.
            return;
        }

        // A reset or close from the primary's side: its kernel says the process is gone, no need to wait.
        onPrimaryLost($"the connection to the primary closed ({error?.Message ?? "end of stream"})");

        // This loop serves the FAILOVER_READs clients send now (its line may follow the promotion's first line).
        (string primary, string reason, ulong lsn) = (options.PrimaryEndPoint!.ToString(), error?.Message ?? "closed", _appliedLsn);
        OffLoop.Log(() => LogPrimaryLost(primary, reason, lsn));
    }

    private void OnHeartbeat(IConnection connection, ReadOnlySpan<byte> payload)
    {
        if (Heartbeat.TryRead(payload, out Heartbeat heartbeat) != WireStatus.Ok)
        {
            connection.Fail(WireStatus.MalformedFrame, $"HEARTBEAT payload must be {Heartbeat.Size} bytes with reserved bytes 0");
            return;
        }

        _sawProtected |= heartbeat.Protected;
        _dropped |= heartbeat.Dropped;
        if (heartbeat.Handover)
        {
            HandoverOffered?.Invoke(heartbeat.Lsn);
        }

        long now = options.TimeProvider.GetTimestamp();
        if (heartbeat.Role != NodeRole.Fenced)
        {
            Volatile.Write(ref _primaryFencedSince, 0);
        }
        else if (Volatile.Read(ref _primaryFencedSince) == 0)
        {
            Volatile.Write(ref _primaryFencedSince, now);
        }

        // A primary that stays fenced although we echo its stamps does not hear us (a link cut one way).
        // After the promotion timeout we stop renewing (the echo keeps the old stamp), and we promote only
        // once that stamp is a promotion timeout old, so that no lease we granted is still running.
        // While this node tries to take over through etcd (WithholdRenewal), the same: no stamp of that time.
        bool withheld;
        lock (_stampLock)
        {
            withheld = _withholding;
            if (!withheld && (heartbeat.Role != NodeRole.Fenced || PrimaryFencedFor < options.PromoteAfter))
            {
                Volatile.Write(ref _leaseStamp, (long)heartbeat.LeaseStamp);
                Volatile.Write(ref _leaseStampHeardAt, now);
            }
        }

        if (withheld)
        {
            NoteRenewalWithheld();
        }

        // Echo at once: the lease then runs from a stamp one round trip old, not up to two heartbeat
        // intervals old, so a late timer on either node does not let it run out.
        SendHeartbeat();
    }

    /// <summary>
    /// Stops (or resumes) renewing the primary's lease: while on, the echo keeps the last stamp taken up before,
    /// so no lease granted from then on outlives that stamp's. A secondary that may win the leader key in etcd
    /// any moment must not let the old primary serve past that moment. Once this returns, <see cref="SinceEchoedStamp"/>
    /// covers every stamp this link will have echoed.
    /// </summary>
    public void WithholdRenewal(bool withhold)
    {
        lock (_stampLock)
        {
            _withholding = withhold;
            _loggedWithheld = false;
        }
    }

    /// <summary>
    /// This process stood still (paused, frozen): the silence and the fenced time measured across the pause
    /// are its own, so both start again now.
    /// </summary>
    public void ForgiveSilence()
    {
        long now = options.TimeProvider.GetTimestamp();
        Volatile.Write(ref _lastFrameTimestamp, now);
        if (Volatile.Read(ref _primaryFencedSince) != 0)
        {
            Volatile.Write(ref _primaryFencedSince, now);
        }
    }

    /// <summary>
    /// Promoted: tells the old primary the new epoch (a HEARTBEAT with role primary, so that it fences at
    /// once if it is alive), then closes the link after that frame.
    /// </summary>
    public void AnnounceAndClose(ulong epoch, ulong lsn)
    {
        _closing = true;
        IConnection? connection = _connection;
        if (connection is not { IsOpen: true })
        {
            return;
        }

        try
        {
            new Heartbeat(epoch, NodeRole.Primary, lsn, 0).Write(connection.BeginPost(Opcode.Heartbeat, WireStatus.Ok, 0, Heartbeat.Size));
            connection.EndPost();
            connection.CloseAfterFlush();
        }
        catch (ConnectionClosedException)
        {
        }
    }

    /// <summary>Sends a HEARTBEAT with the applied LSN.</summary>
    public void SendHeartbeat()
    {
        IConnection? connection = _connection;
        if (connection is not { IsOpen: true })
        {
            return;
        }

        try
        {
            (NodeRole currentRole, ulong epoch) = role.Current;
            new Heartbeat(epoch, currentRole, AppliedLsn, (ulong)Volatile.Read(ref _leaseStamp), _sawProtected).Write(connection.BeginPost(Opcode.Heartbeat, WireStatus.Ok, 0, Heartbeat.Size));
            connection.EndPost();
            connection.Flush();
        }
        catch (ConnectionClosedException)
        {
        }
    }

    /// <summary>Whether the primary answers READ_LEASE (it speaks protocol 1.5 or later).</summary>
    public bool GrantsReadLeases => Primary is { } primary && primary.Version.Minor >= ProtocolVersion.V1_5.Minor && IsConnected;

    /// <summary>Raised with the epoch and the stamp of a READ_LEASE the primary granted (status Ok).</summary>
    public event Action<ulong, long>? ReadLeaseGranted;

    /// <summary>
    /// Asks the primary to vouch for this secondary's reads from <paramref name="stamp"/> (this node's clock, read
    /// before the call): the grant comes back as <see cref="ReadLeaseGranted"/>.
    /// </summary>
    public void RequestReadLease(ulong epoch, long stamp)
    {
        IConnection? connection = _connection;
        if (connection is not { IsOpen: true })
        {
            return;
        }

        try
        {
            ReadLeaseMessages.Write(connection.BeginPost(Opcode.ReadLease, WireStatus.Ok, 0, ReadLeaseMessages.Size), epoch, (ulong)stamp);
            connection.EndPost();
            connection.Flush();
        }
        catch (ConnectionClosedException)
        {
        }
    }

    // A refusal (NotInSync) grants nothing: the lease runs out unless etcd names this node.
    private void OnReadLeaseReply(in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.Status == WireStatus.Ok && ReadLeaseMessages.TryRead(payload, out ulong epoch, out ulong stamp) == WireStatus.Ok)
        {
            ReadLeaseGranted?.Invoke(epoch, (long)stamp);
        }
    }

    /// <summary>Closes the link (node shutdown).</summary>
    public void Close()
    {
        _closing = true;
        _connection?.Abort(null);
    }

    private void OnChallenge(IConnection connection, ReadOnlySpan<byte> challenge)
    {
        byte[]? secret = options.EffectivePeerSecret;
        if (secret is null || challenge.Length != AuthProof.ChallengeSize)
        {
            _hello.TrySetException(new InvalidOperationException(secret is null
                ? $"the primary at {options.PrimaryEndPoint} requires a peer secret: start this node with the same one (--peer-secret-file or MIRRORKV_PEER_SECRET, else --secret-file or MIRRORKV_SECRET)"
                : $"the primary's challenge has {challenge.Length} bytes, not {AuthProof.ChallengeSize}"));
            connection.Abort(null);
            return;
        }

        AuthProof.Compute(secret, PeerKind.Peer, challenge, connection.BeginPost(Opcode.Auth, WireStatus.Ok, 1, AuthProof.Size));
        connection.EndPost();
        connection.Flush();
    }

    private void OnHelloReply(IConnection connection, in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.Status != WireStatus.Ok || HelloReply.TryRead(payload, out HelloReply? reply) != WireStatus.Ok)
        {
            _hello.TrySetException(new InvalidOperationException($"The primary's HELLO reply was {header.Status}: {ErrorText.Read(payload)}"));
            connection.Abort(null);
            return;
        }

        string? problem = reply!.Role != NodeRole.Primary ? $"the node at {options.PrimaryEndPoint} is {reply.Role}, not primary"
            : reply.SlabSize != (uint)store.Options.SlabSize ? $"the primary's slab size is {reply.SlabSize}, this node's {store.Options.SlabSize}: they must match"
            : reply.Regions.Count == 0 ? "the primary announced no region"
            : reply.Limits is { } limits ? PeerLimits.Problem(limits, connection.RemoteEndPoint, store.Options, options.Replication)
            : null;
        if (problem is not null)
        {
            _hello.TrySetException(new InvalidOperationException(problem));
            connection.Abort(null);
            return;
        }

        // Last to first: this node's chunks then come in another order than the primary's, as its slabs do, so
        // that no translation can pass by accident of the two growing alike.
        for (int i = reply.Regions.Count - 1; i >= 0; i--)
        {
            RegionInfo region = reply.Regions[i];
            store.MirrorPrimaryRegion(region.RKey, region.BaseAddress, region.Length);
        }

        role.TransitionTo(NodeRole.Rejoining, reply.Epoch, $"attached to primary {options.PrimaryEndPoint}: copying its slabs, then following its stream");
        Primary = reply;
        StartCopy(connection);
        _hello.TrySetResult(reply);
    }

    private void Apply(IConnection connection, ulong requestId, ReadOnlySpan<byte> payload)
    {
        var reader = new PayloadReader(payload);
        if (ReplicateBatch.TryReadHeader(ref reader, out _, out uint count) != WireStatus.Ok)
        {
            Stop(connection, "malformed REPLICATE header");
            return;
        }

        if (count == 0 && !_streamStarted)
        {
            // The stream's first frame: the LSN it starts after, so that this node reports the primary's
            // LSN from the start of its copy.
            _streamStarted = true;
            Volatile.Write(ref _appliedLsn, requestId);
            return;
        }

        for (uint i = 0; i < count; i++)
        {
            if (ReplicationRecord.TryRead(ref reader, out ReplicationRecord record) != WireStatus.Ok)
            {
                Stop(connection, "malformed REPLICATE record");
                return;
            }

            // The stream starts after the LSN at which this secondary attached; the slab copy covers what came before.
            if (!_streamStarted)
            {
                _streamStarted = true;
                _appliedLsn = record.Lsn - 1;
            }

            if (record.Lsn != _appliedLsn + 1)
            {
                Stop(connection, $"replication stream gap: expected LSN {_appliedLsn + 1}, got {record.Lsn}");
                return;
            }

            ApplyStatus status = record.IsSlabRelease ? (record.IsBare ? store.ApplySlabRelease(record.Slot) : ApplyStatus.BadEntry)
                : record.IsRegion ? (record.IsBare ? store.ApplyRegion(record.Slot) : ApplyStatus.BadEntry)
                : store.Apply(new SlotChange(record.Slot, record.Version, (EntryFlags)record.Flags, record.Key, record.Value));
            if (status is not (ApplyStatus.Applied or ApplyStatus.AlreadyApplied))
            {
                Stop(connection, $"record LSN {record.Lsn} for slot {record.Slot} could not be applied: {status}");
                return;
            }

            Volatile.Write(ref _appliedLsn, record.Lsn);
        }

        if (!reader.IsCompleteAndValid)
        {
            Stop(connection, "REPLICATE frame has bytes after its records");
        }
    }

    // The secondary cannot follow a stream it cannot apply: it stops rather than serve a diverging copy.
    private void Stop(IConnection connection, string reason)
    {
        _diverged = true;
        LogStreamBroken(reason);
        connection.Fail(WireStatus.MalformedFrame, reason);
    }

    // Once per takeover: the primary is heard while this node claims its key.
    private void NoteRenewalWithheld()
    {
        lock (_stampLock)
        {
            if (_loggedWithheld)
            {
                return;
            }

            _loggedWithheld = true;
        }

        LogRenewalWithheld(options.PrimaryEndPoint!.ToString());
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "heard the primary at {Primary} while taking over through etcd: its lease is not renewed until the takeover is won or given up")]
    private partial void LogRenewalWithheld(string primary);

    [LoggerMessage(Level = LogLevel.Warning, Message = "lost the primary at {Primary} ({Reason}); applied up to LSN {Lsn}; still serving reads")]
    private partial void LogPrimaryLost(string primary, string reason, ulong lsn);

    [LoggerMessage(Level = LogLevel.Warning, Message = "the primary at {Primary} did not take this secondary yet ({Reason}); trying again")]
    private partial void LogHandshakeRetry(string primary, string reason);

    [LoggerMessage(Level = LogLevel.Critical, Message = "replication stopped: {Reason}")]
    private partial void LogStreamBroken(string reason);
}
