using System.Net;
using MirrorKv.Protocol;
using MirrorKv.Transport;
using MirrorKv.Transport.Tcp;

namespace MirrorKv.Client;

/// <summary>
/// A slot mover's connection to one node of a cluster (protocol 1.4, docs/scale-out.md "Moving slots"): pages of a
/// moving range's entries out of the source pair's primary (SLOT_EXPORT), into the target pair's primary
/// (SLOT_IMPORT), and the source's entries deleted in handoff (SLOT_RETIRE). What <c>mirrorkv cluster move</c> uses;
/// applications never need it. One request at a time.
/// </summary>
public sealed class SlotTransferConnection : IAsyncDisposable
{
    /// <summary>
    /// Bytes of entries a page holds at least: the default frame size less room for headers, so that one round trip
    /// moves many small entries. A node whose largest entry needs more (a 16 MiB value) is asked for pages that
    /// large: see <see cref="MaxPageBytes"/>.
    /// </summary>
    public const int DefaultPageBytes = (int)ProtocolLimits.DefaultMaxFrameSize - 4096;

    private readonly NodeChannel _channel;

    private SlotTransferConnection(NodeChannel channel) => _channel = channel;

    /// <summary>The node.</summary>
    public IPEndPoint EndPoint => _channel.EndPoint;

    /// <summary>
    /// The most entry bytes one page to or from this node can hold: what its frames take (announced in its HELLO,
    /// sized by the node for its largest value) less the frame's and the page's headers. A move asks for pages no
    /// larger than the smaller of the source's and the target's, so that what is exported can be imported.
    /// </summary>
    public int MaxPageBytes => (int)Math.Min(_channel.Hello.MaxFrameSize - (uint)FrameHeader.Size - SlotTransferMessages.PageHeaderSize, int.MaxValue);

    /// <summary>Connects to <paramref name="node"/>.</summary>
    /// <param name="node">A node of the cluster (the source's or the target's primary).</param>
    /// <param name="transport">TCP unless given.</param>
    /// <param name="timeout">For the connection and each request; 10 s unless given (an import waits for the secondary).</param>
    /// <param name="secret">The node's client secret, when it has one.</param>
    /// <param name="cancellationToken">Cancels the connection.</param>
    /// <exception cref="MirrorKvException">The node cannot be reached (<see cref="MirrorKvError.Unavailable"/>) or refused the handshake.</exception>
    public static async Task<SlotTransferConnection> ConnectAsync(IPEndPoint node, ITransport? transport = null, TimeSpan? timeout = null, byte[]? secret = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(node);
        TimeSpan wait = timeout ?? TimeSpan.FromSeconds(10);
        try
        {
            NodeChannel channel = await NodeChannel.ConnectAsync(transport ?? new TcpTransport(), node, new NodeChannelOptions(secret, TimeSpan.FromSeconds(2) < wait ? TimeSpan.FromSeconds(2) : wait, wait) { MaxFrameSize = ProtocolLimits.MaxMaxFrameSize }, _ => { }, cancellationToken).ConfigureAwait(false);
            if (channel.Hello.Version.Minor < ProtocolVersion.V1_4.Minor)
            {
                await channel.DisposeAsync().ConfigureAwait(false);
                throw new MirrorKvException(MirrorKvError.Protocol, $"{node} speaks protocol {channel.Hello.Version}: moving slots needs 1.4 (a node of this release)", WireStatus.UnknownOpcode);
            }

            return new SlotTransferConnection(channel);
        }
        catch (Exception e) when (e is not MirrorKvException and not OperationCanceledException)
        {
            throw new MirrorKvException(MirrorKvError.Unavailable, $"Cannot reach {node}: {e.Message}", WireStatus.Ok, e);
        }
    }

    /// <summary>
    /// A page of the live entries of slots <paramref name="first"/>-<paramref name="last"/> from <paramref name="cursor"/>
    /// (0: the start), of at most <paramref name="maxBytes"/> bytes of entries (by default <see cref="MaxPageBytes"/>).
    /// </summary>
    /// <exception cref="MirrorKvException">Refused: <see cref="MirrorKvException.WireStatus"/> says why (SlotsNotMoving, NotPrimary, ...), the message names the node's map version.</exception>
    public async Task<SlotPage> ExportAsync(int first, int last, ulong cursor, int? maxBytes = null, CancellationToken cancellationToken = default)
    {
        var request = new byte[SlotTransferMessages.ExportRequestSize];
        SlotTransferMessages.WriteExportRequest(request, first, last, (uint)(maxBytes ?? MaxPageBytes), cursor);
        return await AskAsync(Opcode.SlotExport, request, static payload =>
            SlotTransferMessages.TryReadExportReply(payload, out ulong next, out int count, out ReadOnlySpan<byte> entries) == WireStatus.Ok
                ? new SlotPage(next, count, entries.ToArray())
                : null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes <paramref name="page"/>'s entries (of slots <paramref name="first"/>-<paramref name="last"/>) at this node; returns once its secondary holds them.</summary>
    /// <exception cref="MirrorKvException">
    /// Refused: <see cref="MirrorKvError.OutOfMemory"/> when the node's store is full (the entries before the one that
    /// did not fit stay written), <see cref="MirrorKvError.ValueTooLarge"/> for a value over its limit, else as for an export.
    /// </exception>
    public async Task<int> ImportAsync(int first, int last, SlotPage page, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(page);
        var request = new byte[SlotTransferMessages.PageHeaderSize + page.Entries.Length];
        SlotTransferMessages.WriteImportHeader(request, first, last, page.Count);
        page.Entries.Span.CopyTo(request.AsSpan(SlotTransferMessages.PageHeaderSize));
        return await AskAsync(Opcode.SlotImport, request, static payload =>
            SlotTransferMessages.TryReadImportReply(payload, out int written) == WireStatus.Ok ? (int?)written : null, cancellationToken).ConfigureAwait(false) ?? 0;
    }

    /// <summary>Deletes up to <paramref name="maxEntries"/> entries of slots <paramref name="first"/>-<paramref name="last"/> from <paramref name="cursor"/>; returns once the secondary holds the deletes.</summary>
    public async Task<(ulong NextCursor, int Deleted)> RetireAsync(int first, int last, ulong cursor, int maxEntries = 4096, CancellationToken cancellationToken = default)
    {
        var request = new byte[SlotTransferMessages.RetireSize];
        SlotTransferMessages.WriteRetireRequest(request, first, last, (uint)maxEntries, cursor);
        return (await AskAsync(Opcode.SlotRetire, request, static payload =>
            SlotTransferMessages.TryReadRetireReply(payload, out ulong next, out int deleted) == WireStatus.Ok ? new Tuple<ulong, int>(next, deleted) : null, cancellationToken).ConfigureAwait(false)) is { } answer
            ? (answer.Item1, answer.Item2)
            : default;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _channel.DisposeAsync();

    // The store's refusals keep their own error, as a client's WRITE reports them: a mover tells a full target
    // (OutOfMemory) apart from one that is failing over (NotPrimary: Unavailable, wait for the next primary).
    private static MirrorKvError ErrorOf(WireStatus status) => status switch
    {
        WireStatus.NotPrimary => MirrorKvError.Unavailable,
        WireStatus.OutOfMemory => MirrorKvError.OutOfMemory,
        WireStatus.ValueTooLarge => MirrorKvError.ValueTooLarge,
        WireStatus.KeyTooLong or WireStatus.EmptyKey => MirrorKvError.KeyTooLong,
        _ => MirrorKvError.Protocol,
    };

    private async Task<T> AskAsync<T>(Opcode opcode, byte[] request, Func<ReadOnlySpan<byte>, T?> decode, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        PendingOperation op = _channel.Rent();
        try
        {
            _channel.PostPayload(op, opcode, request);
            await op.AsValueTask().ConfigureAwait(false);
            if (op.Status != WireStatus.Ok)
            {
                throw new MirrorKvException(ErrorOf(op.Status), $"{EndPoint} answered {opcode} with {op.Status}: {ErrorText.Read(op.Payload)}", op.Status);
            }

            return decode(op.Payload) ?? throw new MirrorKvException(MirrorKvError.Protocol, $"{EndPoint} answered {opcode} with a malformed reply", WireStatus.MalformedFrame);
        }
        catch (Transport.ConnectionClosedException e)
        {
            throw new MirrorKvException(MirrorKvError.Unavailable, $"{EndPoint} closed the connection before it answered {opcode}", WireStatus.Ok, e);
        }
        finally
        {
            _channel.Return(op);
        }
    }
}
