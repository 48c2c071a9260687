using System.Net;

namespace MirrorKv.Transport;

/// <summary>One end of a connection: a queue pair. See <see cref="ITransport"/> for the rules.</summary>
public interface IConnection : IAsyncDisposable
{
    /// <summary>The other end.</summary>
    EndPoint RemoteEndPoint { get; }

    /// <summary>False once closed, by either side or by a failure.</summary>
    bool IsOpen { get; }

    /// <summary>
    /// Largest frame this end accepts, at most <see cref="FrameLayout.MaxFrameSize"/>; a larger one ends the
    /// connection (the handler hears of it first, see <see cref="IFrameHandler.OnFramingError"/>).
    /// </summary>
    uint MaxFrameSize { get; set; }

    /// <summary>Free for the handler: per-connection state such as what its handshake settled.</summary>
    object? State { get; set; }

    /// <summary>
    /// Bytes of posted, unsent frames past which this connection stops delivering received frames until the
    /// queue has drained to half of it: backpressure on a peer that asks faster than it reads. Unlimited by
    /// default; a server sets it on the connections it accepts. Never set it on both ends of a connection
    /// that both post a lot: each would wait for the other to read.
    /// </summary>
    int SendQueueLimit { get; set; }

    /// <summary>
    /// True (the default): going over <see cref="SendQueueLimit"/> holds this connection's receives. False:
    /// it only raises <see cref="IsCongested"/>, for a link whose incoming frames must keep flowing (the
    /// peer link's heartbeats and acks) while its backlog throttles someone else.
    /// </summary>
    bool CongestionHoldsReceives { get; set; }

    /// <summary>Bytes posted and not yet handed to the network.</summary>
    int QueuedBytes { get; }

    /// <summary>True while the send queue is over <see cref="SendQueueLimit"/>.</summary>
    bool IsCongested { get; }

    /// <summary>How long the current write to the network has been waiting (zero when none is).</summary>
    TimeSpan WriteBlockedFor { get; }

    /// <summary>How long a received frame has been incomplete (zero when none is): a slow or stuck sender.</summary>
    TimeSpan PartialFrameFor { get; }

    /// <summary>Completes when the send queue is back under half its limit (at once when not congested).</summary>
    Task WhenDrained();

    /// <summary>
    /// Stops delivering this connection's frames until <paramref name="released"/> completes, for example
    /// while another connection that these frames would post to is congested. No effect while already held.
    /// </summary>
    void HoldReceivesUntil(Task released);

    /// <summary>
    /// Called by a frame handler while it handles a frame: that frame is not consumed, and is delivered again, first of
    /// a new batch, once receiving is released. Together with <see cref="HoldReceivesUntil"/>, for a request that can
    /// run only after something else happened (room in a full store once earlier writes are published), without
    /// letting the connection's later requests overtake it. Frame connections only; a stream handler returns 0 instead.
    /// </summary>
    void DeliverAgain();

    /// <summary>
    /// Reserves a frame with <paramref name="payloadLength"/> payload bytes in the send queue, writes its header,
    /// takes the send lock and returns the payload span to fill. Must be followed by <see cref="EndPost"/> on the
    /// same thread.
    /// </summary>
    /// <param name="immediate">The frame's immediate data: the layer above's, carried unchanged.</param>
    /// <param name="requestId">The frame's request id: the layer above's, carried unchanged.</param>
    /// <param name="payloadLength">Payload bytes after the header.</param>
    /// <exception cref="ConnectionClosedException">The connection is closed, or closing.</exception>
    Span<byte> BeginPost(uint immediate, ulong requestId, int payloadLength);

    /// <summary>Commits the frame begun by <see cref="BeginPost"/> and releases the send lock.</summary>
    void EndPost();

    /// <summary>
    /// For a stream connection (<see cref="IStreamHandler"/>): reserves up to <paramref name="maxLength"/> raw
    /// bytes (no frame header) in the send queue, takes the send lock and returns the span to fill. Must be
    /// followed by <see cref="EndPostBytes"/> on the same thread.
    /// </summary>
    /// <exception cref="ConnectionClosedException">The connection is closed.</exception>
    Span<byte> BeginPostBytes(int maxLength);

    /// <summary>Commits the first <paramref name="length"/> bytes of the span <see cref="BeginPostBytes"/> returned and releases the send lock.</summary>
    void EndPostBytes(int length);

    /// <summary>Posts a frame with a payload copied from <paramref name="payload"/> (see <see cref="BeginPost"/>).</summary>
    void Post(uint immediate, ulong requestId, ReadOnlySpan<byte> payload);

    /// <summary>
    /// Posts a small frame (at most 4 KiB of payload) that overtakes the frames queued and not yet handed to the
    /// network: it leaves before them, or, when a write of them is under way, at the next frame boundary within
    /// about 256 KiB (after the frame being written when that one is larger). For control frames whose worth is
    /// their age, such as a lease heartbeat; their order relative to other frames is given up (urgent frames keep
    /// their order among themselves). Frame connections only. It is sent without a <see cref="Flush"/>, and posting it
    /// never waits for a poster that holds the queue between <see cref="BeginPost"/> and <see cref="EndPost"/>.
    /// </summary>
    /// <exception cref="ConnectionClosedException">The connection is closed, or closing.</exception>
    /// <exception cref="InvalidOperationException">A stream connection.</exception>
    void PostUrgent(uint immediate, ulong requestId, ReadOnlySpan<byte> payload);

    /// <summary>Rings the doorbell: everything posted goes to the wire, in one write when it fits.</summary>
    void Flush();

    /// <summary>
    /// As <see cref="Flush"/>, but when called on an event loop's thread, once the loop has served every
    /// connection that was ready in the same wake-up: posts made for many of them (records of the replication
    /// stream written by many clients' batches) then leave in one write. Elsewhere it flushes at once.
    /// </summary>
    void FlushAfterDelivery();

    /// <summary>
    /// Sends what is posted, then closes. From this call on nothing more can be posted, and no further frame of
    /// the current receive is delivered: a handler posts its last word (an error saying why) first, then calls this.
    /// </summary>
    void CloseAfterFlush();

    /// <summary>Closes at once; posted frames not yet sent are dropped.</summary>
    void Abort(Exception? reason);
}
