using System.Net;

namespace MirrorKv.Transport;

/// <summary>
/// Moves frames between adapters and clients, in the shape of RDMA verbs, so that an ibverbs backend can
/// replace it where hardware exists.
/// </summary>
/// <remarks>
/// <para><b>Vocabulary.</b> A connection (<see cref="IConnection"/>) is a queue pair. A requester posts
/// work requests (frames) with a request id of its choosing; <see cref="IConnection.Flush"/> rings the
/// doorbell, handing everything posted since the last flush to the wire in one write. The responder answers
/// with reply frames carrying the same id; they arrive at the requester's <see cref="IFrameHandler"/>,
/// which is its completion queue. One-sided READs are work requests like any other: on the responder side
/// the adapter's verbs engine serves them from registered memory without involving the store engine.</para>
/// <para><b>Frames.</b> What moves is frames (<see cref="FrameLayout"/>): a 16-byte header with the frame's
/// length, 32 bits of immediate data and a 64-bit request id, then the payload, a buffer. The transport reads the
/// length only; immediate data, request id and payload belong to the layer above (MirrorKv's wire protocol puts
/// its opcode, status and reserved flags in the immediate data), so that a backend, an RDMA verbs one included,
/// never needs to know a MirrorKv message. A length it cannot accept ends the connection after
/// <see cref="IFrameHandler.OnFramingError"/>.</para>
/// <para><b>Batching.</b> A receive loop reads as many bytes as the wire has, delivers every whole frame in
/// them, then calls <see cref="IFrameHandler.OnBatchEnd"/>, where a handler flushes its replies: a
/// pipeline of N requests costs one read and one write per batch, not per request.</para>
/// <para><b>Buffer ownership.</b> The payload span passed to <see cref="IFrameHandler.OnFrame"/> belongs to
/// the transport and is valid only during that call: copy what must outlive it. The span returned by
/// <see cref="IConnection.BeginPost"/> belongs to the caller only until <see cref="IConnection.EndPost"/>;
/// the transport owns posted bytes until they are on the wire.</para>
/// <para><b>Threads.</b> Handler callbacks for one connection run one at a time, in wire order, on a thread
/// of the transport's choosing: the epoll backend's event-loop thread that owns the connection, or, for
/// the socket-engine backend and the in-process network, a thread-pool thread (or the socket completion
/// inline). A handler must not block in them: on an event loop it would stall every connection of that loop. Posting and flushing
/// are thread-safe and may be called from any thread; between BeginPost and EndPost the caller holds the
/// connection's send lock and must only fill the span.</para>
/// </remarks>
public interface ITransport
{
    /// <summary>Opens a connection; <paramref name="handler"/> receives its frames.</summary>
    ValueTask<IConnection> ConnectAsync(EndPoint endPoint, IFrameHandler handler, CancellationToken cancellationToken);

    /// <summary>Accepts connections on <paramref name="endPoint"/>; <paramref name="handler"/> receives their frames.</summary>
    IListener Listen(EndPoint endPoint, IFrameHandler handler);

    /// <summary>
    /// Accepts connections on <paramref name="endPoint"/> that carry another protocol's byte stream (RESP),
    /// delimited by <paramref name="handler"/>; served like frame connections (the same threads, buffers,
    /// limits and backpressure), replies posted as raw bytes.
    /// </summary>
    IListener ListenStream(EndPoint endPoint, IStreamHandler handler);
}
