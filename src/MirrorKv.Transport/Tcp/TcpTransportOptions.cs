namespace MirrorKv.Transport.Tcp;

/// <summary>How a <see cref="TcpTransport"/> moves bytes.</summary>
public sealed record TcpTransportOptions
{
    /// <summary>The most event loops a transport may have.</summary>
    public const int MaxEventLoops = 256;

    /// <summary>The longest spin, in microseconds (one second).</summary>
    public const int MaxSpinMicroseconds = 1_000_000;

    /// <summary>Largest frame a connection accepts before the handshake raises or lowers it.</summary>
    public uint MaxFrameSize { get; init; } = FrameLayout.DefaultMaxFrameSize;

    /// <summary>
    /// Event-loop threads of our own (epoll) that serve this transport's connections; 0 leaves the sockets to
    /// the runtime's socket engine. Our loops make one recv and one send per batch, where the runtime's engine
    /// adds a recv that finds nothing. Only on x86-64 Linux; elsewhere the runtime's engine is used whatever
    /// this says.
    /// </summary>
    public int EventLoops { get; init; } = DefaultEventLoops;

    /// <summary>
    /// One loop per four cores, at least one, where event loops are supported; else 0. One loop serves
    /// about a million small requests a second, and fewer loops than cores leave CPU to the rest of the process.
    /// </summary>
    public static int DefaultEventLoops => Epoll.EpollNative.IsSupported ? Math.Max(1, Environment.ProcessorCount / 4) : 0;

    /// <summary>
    /// How long an event loop keeps polling after it runs out of work before it sleeps, in microseconds. A
    /// request that comes meanwhile is served without waking a thread, which on loopback costs the sender more
    /// than the request itself; the price is that much CPU after each burst. A loop spins only while at least
    /// half of its recent spins found work, and otherwise sleeps at once (trying a spin one idle period in
    /// eight), so that a node whose requests come further apart than this leaves the CPU to others. 0 never spins.
    /// </summary>
    public int SpinMicroseconds { get; init; }

    /// <summary>Checks the values; throws <see cref="ArgumentOutOfRangeException"/> naming the bad one.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(EventLoops, nameof(EventLoops));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(EventLoops, MaxEventLoops, nameof(EventLoops));
        ArgumentOutOfRangeException.ThrowIfNegative(SpinMicroseconds, nameof(SpinMicroseconds));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(SpinMicroseconds, MaxSpinMicroseconds, nameof(SpinMicroseconds));
    }
}
