using System.Diagnostics;
using System.Net;
using MirrorKv.Memory;
using MirrorKv.Protocol;
using MirrorKv.Transport;

namespace MirrorKv.Client;

/// <summary>
/// The client's queue pair to one node: posts work requests with pooled operations as ids, matches replies
/// to them, times them out, and reports the node as failed on a reset or a timeout.
/// </summary>
internal sealed class NodeChannel : IMessageHandler, IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly Stack<PendingOperation> _free = new();
    private readonly long _timeoutTicks;
    private readonly Timer _timer;
    private PendingOperation[] _operations = [];
    private IConnection? _connection;
    private int _failed;
    private long _lastReceived;

    private readonly bool _completeOnReceiveThread;

    private uint _maxFrameSize = ProtocolLimits.DefaultMaxFrameSize;

    private NodeChannel(IPEndPoint endPoint, TimeSpan requestTimeout, bool completeOnReceiveThread, Action<NodeChannel> onFailure)
    {
        _completeOnReceiveThread = completeOnReceiveThread;
        EndPoint = endPoint;
        OnFailure = onFailure;
        _timeoutTicks = (long)(requestTimeout.TotalSeconds * Stopwatch.Frequency);

        // One timer per channel scans for expired requests: no timer or allocation per request.
        TimeSpan period = TimeSpan.FromMilliseconds(Math.Clamp(requestTimeout.TotalMilliseconds / 4, 5, 250));
        _timer = new Timer(static s => ((NodeChannel)s!).ExpireOverdue(), this, period, period);
    }

    public IPEndPoint EndPoint { get; }

    public HelloReply Hello { get; private set; } = null!;

    /// <summary>The node's first region (the first one it announced): tells this node's incarnation from another's.</summary>
    public RegionInfo Region => Hello.Regions[0];

    /// <summary>The rkeys of this node's regions seen so far: its HELLO's, and those of pointers its replies carried.</summary>
    public RKeySet RKeys { get; } = new();

    /// <summary>True when <paramref name="rkey"/> names a region of this node that this channel has seen.</summary>
    public bool Owns(uint rkey) => RKeys.Contains(rkey);

    public bool IsHealthy => Volatile.Read(ref _failed) == 0 && _connection is { IsOpen: true };

    /// <summary>When the node last sent anything (a <see cref="Stopwatch"/> timestamp, per batch received): a late reply counts too.</summary>
    public long LastReceived => Volatile.Read(ref _lastReceived);

    private Action<NodeChannel> OnFailure { get; }

    /// <summary>
    /// Connects and shakes hands offering <see cref="ProtocolVersion.Current"/>. A 1.0 node answers any other
    /// version with ERROR 52 and a close; this client needs nothing of 1.1 or 1.2 that it cannot do without (GET,
    /// 1.2, is sent only on a connection that settled on 1.2; everything else is what the 1.0 page allows, and
    /// entries are read by the full rules either way), so it then connects again offering 1.0, as
    /// docs/protocol.md ("Versions") advises.
    /// </summary>
    public static async Task<NodeChannel> ConnectAsync(ITransport transport, IPEndPoint endPoint, NodeChannelOptions options, Action<NodeChannel> onFailure, CancellationToken cancellationToken)
    {
        try
        {
            return await ConnectAsync(transport, endPoint, options, onFailure, ProtocolVersion.Current, cancellationToken).ConfigureAwait(false);
        }
        catch (MirrorKvException e) when (e.WireStatus == WireStatus.UnsupportedProtocol)
        {
            return await ConnectAsync(transport, endPoint, options, onFailure, ProtocolVersion.V1_0, cancellationToken).ConfigureAwait(false);
        }
    }

    // The connection was accepted, so something listens there: a handshake that is not answered is a process that
    // is paused, hung or overloaded, which the caller should hear rather than a bare "timed out".
    private static async Task HandshakeReplyAsync(PendingOperation op, IPEndPoint endPoint, TimeSpan connectTimeout, CancellationToken cancellationToken)
    {
        try
        {
            await op.AsValueTask().AsTask().WaitAsync(connectTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{endPoint} accepted the connection but did not answer the handshake within {connectTimeout.TotalSeconds:F1} s (a paused, hung or overloaded process?)", e);
        }
    }

    private static async Task<NodeChannel> ConnectAsync(ITransport transport, IPEndPoint endPoint, NodeChannelOptions options, Action<NodeChannel> onFailure, ProtocolVersion offer, CancellationToken cancellationToken)
    {
        byte[]? secret = options.Secret;
        TimeSpan connectTimeout = options.ConnectTimeout;
        var channel = new NodeChannel(endPoint, options.RequestTimeout, options.CompleteOnReceiveThread, onFailure) { _maxFrameSize = options.MaxFrameSize };
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(connectTimeout);
            channel._connection = await transport.ConnectAsync(endPoint, channel, timeout.Token).ConfigureAwait(false);
            PendingOperation op = channel.Rent();
            try
            {
                new HelloRequest(PeerKind.Client, channel._maxFrameSize) { Version = offer }.Write(channel.Begin(op, Opcode.Hello, HelloRequest.Size));
                channel.End(flush: true);
                await HandshakeReplyAsync(op, endPoint, connectTimeout, cancellationToken).ConfigureAwait(false);
                if (op.Status == WireStatus.AuthRequired)
                {
                    if (secret is null || op.Payload.Length != AuthProof.ChallengeSize)
                    {
                        throw new MirrorKvException(MirrorKvError.AuthenticationFailed, $"{endPoint} requires a secret: set MirrorKvClientOptions.Secret (mirrorkv: --secret-file or MIRRORKV_SECRET)", op.Status);
                    }

                    byte[] challenge = op.Payload.ToArray();
                    channel.Return(op);
                    op = channel.Rent();
                    AuthProof.Compute(secret, PeerKind.Client, challenge, channel.Begin(op, Opcode.Auth, AuthProof.Size));
                    channel.End(flush: true);
                    await HandshakeReplyAsync(op, endPoint, connectTimeout, cancellationToken).ConfigureAwait(false);
                    if (op.Status == WireStatus.AuthFailed)
                    {
                        throw new MirrorKvException(MirrorKvError.AuthenticationFailed, $"{endPoint} refused the secret: {ErrorText.Read(op.Payload)}", op.Status);
                    }
                }

                if (op.Status != WireStatus.Ok || HelloReply.TryRead(op.Payload, out HelloReply? hello) != WireStatus.Ok || hello!.Regions.Count == 0)
                {
                    throw new MirrorKvException(MirrorKvError.Protocol, $"{endPoint} refused the handshake: {op.Status}: {ErrorText.Read(op.Payload)}", op.Status);
                }

                channel.Hello = hello;
                foreach (RegionInfo region in hello.Regions)
                {
                    channel.RKeys.Add(region.RKey);
                }
            }
            finally
            {
                channel.Return(op);
            }

            return channel;
        }
        catch
        {
            await channel.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// A channel that knows a node's HELLO but never connected (never healthy): what the router's state machine
    /// is tested with, without a node.
    /// </summary>
    public static NodeChannel Unconnected(IPEndPoint endPoint, HelloReply hello)
    {
        var channel = new NodeChannel(endPoint, TimeSpan.FromSeconds(1), completeOnReceiveThread: false, static _ => { }) { Hello = hello };
        foreach (RegionInfo region in hello.Regions)
        {
            channel.RKeys.Add(region.RKey);
        }

        return channel;
    }

    public PendingOperation Rent() => Rent(Stopwatch.GetTimestamp());

    /// <summary>
    /// Rents an operation for <paramref name="parts"/> work requests (see <see cref="PendingOperation.Start"/>)
    /// whose deadline counts from <paramref name="now"/>: a batch reads the clock once.
    /// </summary>
    public PendingOperation Rent(long now, int parts = 1)
    {
        PendingOperation? op;
        lock (_lock)
        {
            if (!_free.TryPop(out op))
            {
                if (_operations.Length == PendingOperation.MaxOperations)
                {
                    throw new MirrorKvException(MirrorKvError.Unavailable, $"{EndPoint}: {PendingOperation.MaxOperations} requests are outstanding already");
                }

                op = new PendingOperation(_operations.Length, _completeOnReceiveThread);
                _operations = [.. _operations, op];
            }
        }

        op.Start(now + _timeoutTicks, parts);
        return op;
    }

    public void Return(PendingOperation op)
    {
        op.Release();
        lock (_lock)
        {
            _free.Push(op);
        }
    }

    /// <summary>Posts a READ or FAILOVER_READ as part <paramref name="part"/> of <paramref name="op"/>.</summary>
    public void PostRead(PendingOperation op, Opcode opcode, in RemotePointer pointer, bool flush, int part = 0)
    {
        ReadRequest.Write(Begin(op, opcode, ReadRequest.Size, part), pointer);
        End(flush);
    }

    /// <summary>Posts a two-sided KV request as part <paramref name="part"/> of <paramref name="op"/>.</summary>
    public void PostKv(PendingOperation op, Opcode opcode, ulong epoch, in RemotePointer hint, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, bool flush, int part = 0)
    {
        var request = new KvRequest(epoch, hint, key, value);
        request.Write(Begin(op, opcode, request.Size, part));
        End(flush);
    }

    public void PostTranslation(PendingOperation op, uint primaryRKey)
    {
        TranslationMessages.WriteRequest(Begin(op, Opcode.Translation, TranslationMessages.RequestSize), primaryRKey);
        End(flush: true);
    }

    public void PostStatus(PendingOperation op)
    {
        Begin(op, Opcode.Status, NodeStatus.RequestSize).Clear();
        End(flush: true);
    }

    public void PostSwitchover(PendingOperation op, TimeSpan timeout)
    {
        SwitchoverMessages.WriteRequest(Begin(op, Opcode.Switchover, SwitchoverMessages.RequestSize), timeout);
        End(flush: true);
    }

    public void PostClusterMap(PendingOperation op, ulong knownVersion)
    {
        ClusterMapMessages.WriteRequest(Begin(op, Opcode.ClusterMap, ClusterMapMessages.RequestSize), knownVersion);
        End(flush: true);
    }

    /// <summary>Posts a request whose payload the caller encoded (the slot move's pages), flushed at once.</summary>
    public void PostPayload(PendingOperation op, Opcode opcode, ReadOnlySpan<byte> payload)
    {
        payload.CopyTo(Begin(op, opcode, payload.Length));
        End(flush: true);
    }

    public void Flush() => _connection?.Flush();

    public void OnOpened(IConnection connection) => connection.MaxFrameSize = _maxFrameSize;

    public void OnFrame(IConnection connection, in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.Opcode == Opcode.Error)
        {
            MirrorKvError error = header.Status switch
            {
                WireStatus.AuthFailed => MirrorKvError.AuthenticationFailed,
                WireStatus.TooManyConnections or WireStatus.Timeout => MirrorKvError.Unavailable,
                _ => MirrorKvError.Protocol,
            };
            Fail(new MirrorKvException(error, $"{EndPoint} closed the connection: {header.Status}: {ErrorText.Read(payload)}", header.Status));
            return;
        }

        // Request id: generation (32 bits), part of a batch operation (8), operation index (24).
        int index = (int)(header.RequestId & (PendingOperation.MaxOperations - 1));
        int part = (int)((uint)header.RequestId >> 24);
        PendingOperation[] operations = Volatile.Read(ref _operations);
        if (header.IsReply && (uint)index < (uint)operations.Length)
        {
            // A node registers chunks as it fills: the pointer of an addressing reply may name one registered after
            // this channel's HELLO. It is learned before the operation completes, so before the pointer is cached.
            if (header.Status == WireStatus.Ok && header.Opcode is (Opcode.Write | Opcode.ReplyBit) or (Opcode.Update | Opcode.ReplyBit) or (Opcode.Lookup | Opcode.ReplyBit)
                && payload.Length >= sizeof(uint))
            {
                RKeys.Add(System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(payload));
            }

            operations[index].TryComplete((uint)(header.RequestId >> 32), part, header.Status, payload);
        }
    }

    public void OnBatchEnd(IConnection connection) => Volatile.Write(ref _lastReceived, Stopwatch.GetTimestamp());

    public void OnClosed(IConnection connection, Exception? error) =>
        Fail(new MirrorKvException(MirrorKvError.Unavailable, $"connection to {EndPoint} closed{(error is null ? "" : ": " + error.Message)}", WireStatus.Ok, error));

    public async ValueTask DisposeAsync()
    {
        await _timer.DisposeAsync().ConfigureAwait(false);
        Interlocked.Exchange(ref _failed, 1);
        _connection?.Abort(null);
        FailAll(new ObjectDisposedException(nameof(MirrorKvClient)));
    }

    /// <summary>
    /// Leaves the channel when the route moves on from it while its node lives (the secondary that was promoted, whose
    /// new primary channel replaces it): it takes no new operation (it is no longer healthy), the operations in flight
    /// get their answers, and it closes when none is left or when the request timeout would have failed them anyway.
    /// Closing it at once would fail the FAILOVER_READs of a failover in flight, to be sent again.
    /// </summary>
    public async Task RetireAsync()
    {
        Interlocked.Exchange(ref _failed, 1);
        long until = Stopwatch.GetTimestamp() + _timeoutTicks;
        while (Stopwatch.GetTimestamp() < until && Array.Exists(Volatile.Read(ref _operations), op => op.IsInFlight))
        {
            await Task.Delay(5).ConfigureAwait(false);
        }

        await DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Declares the node unusable (it answered that it is no longer the primary).</summary>
    public void Invalidate(string reason) => Fail(new MirrorKvException(MirrorKvError.Unavailable, $"{EndPoint}: {reason}"));

    private Span<byte> Begin(PendingOperation op, Opcode opcode, int payloadLength, int part = 0)
    {
        IConnection connection = _connection ?? throw new ConnectionClosedException();
        return connection.BeginPost(opcode, WireStatus.Ok, op.PartRequestId(part), payloadLength);
    }

    private void End(bool flush)
    {
        _connection!.EndPost();
        if (flush)
        {
            _connection.Flush();
        }
    }

    private void ExpireOverdue()
    {
        long now = Stopwatch.GetTimestamp();
        bool expired = false;
        foreach (PendingOperation op in Volatile.Read(ref _operations))
        {
            if (op.IsInFlight && now > op.DeadlineTimestamp)
            {
                expired |= op.TryFail(new MirrorKvException(MirrorKvError.Unavailable, $"{EndPoint} did not answer within the request timeout"));
            }
        }

        if (expired)
        {
            Fail(new TimeoutException($"{EndPoint} did not answer within the request timeout"));
        }
    }

    private void Fail(Exception error)
    {
        bool first = Interlocked.Exchange(ref _failed, 1) == 0;

        // Fail the operations before aborting: the abort reports a close, whose plainer error must not win.
        FailAll(error as MirrorKvException ?? new MirrorKvException(MirrorKvError.Unavailable, error.Message, WireStatus.Ok, error));
        _connection?.Abort(error);
        if (first)
        {
            OnFailure(this);
        }
    }

    private void FailAll(Exception error)
    {
        foreach (PendingOperation op in Volatile.Read(ref _operations))
        {
            op.TryFail(error);
        }
    }
}
