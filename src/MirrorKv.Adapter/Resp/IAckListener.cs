using MirrorKv.Transport;

namespace MirrorKv.Adapter;

/// <summary>
/// A connection's replies held for the secondary's acknowledgement, for a protocol whose replies carry no
/// request id and so must leave in request order (RESP): <see cref="AckWaiters"/> tells it how far the
/// secondary has confirmed, and it posts what that releases.
/// </summary>
internal interface IAckListener
{
    /// <summary>The connection the held replies go to; <see cref="AckWaiters"/> flushes it after <see cref="OnAcked"/>.</summary>
    IConnection Connection { get; }

    /// <summary>The secondary has applied everything up to <paramref name="ackedLsn"/>: post the replies that waited for no more.</summary>
    void OnAcked(ulong ackedLsn);

    /// <summary>The primary fenced itself before the secondary confirmed: no held reply may say the write succeeded.</summary>
    void OnFailed(string message);
}
