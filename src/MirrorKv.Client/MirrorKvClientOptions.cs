using System.Net;
using MirrorKv.Transport;

namespace MirrorKv.Client;

/// <summary>How a client reaches a pair and how patient it is. Immutable; validated once at connect.</summary>
public sealed record MirrorKvClientOptions
{
    /// <summary>
    /// The pair's nodes, in any order: <see cref="IPEndPoint"/>s (IPv4 or IPv6) or <see cref="DnsEndPoint"/>s
    /// (resolved at every connection attempt). The client asks whichever answers who the primary is and at
    /// which epoch, follows it, and keeps every endpoint it learns from the nodes besides these. From one
    /// configuration string: <see cref="MirrorKvEndPoints.Parse"/>.
    /// </summary>
    public IReadOnlyList<EndPoint> EndPoints { get; init; } = [];

    /// <summary>Older shorthand for one item of <see cref="EndPoints"/>; it need not be the primary any more.</summary>
    [Obsolete("List the pair's nodes in EndPoints, in any order.")]
    public IPEndPoint? PrimaryEndPoint { get; init; }

    /// <summary>Older shorthand for one item of <see cref="EndPoints"/>.</summary>
    [Obsolete("List the pair's nodes in EndPoints, in any order.")]
    public IPEndPoint? SecondaryEndPoint { get; init; }

    /// <summary>
    /// The longest pause between two rounds of connection attempts while no node answers at all (both nodes
    /// down): 1 s. Rounds start 10 ms apart and double up to this, each shortened by a random part of up to
    /// half (jitter, so that the clients of a restarted pair do not all knock at once). While some node answers
    /// without being primary (a promotion under way), rounds stay at most 100 ms apart.
    /// </summary>
    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The transport; TCP when null. Tests pass the in-process one.</summary>
    public ITransport? Transport { get; init; }

    /// <summary>How long a connection attempt may take: 2 s, far above a LAN's round trip.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Resume awaiting callers on the thread that received the reply, instead of queuing them to the thread
    /// pool. Saves a thread hop per await (about 20 % more throughput in <c>mirrorkv bench</c> on two cores),
    /// but the code after an await then runs on the connection's receive thread until its next await: it
    /// must never block there (no <c>.Result</c>, no <c>Wait()</c>, no long computation), or that
    /// connection's replies stop, its own included. Off by default; turn it on for fully asynchronous callers.
    /// </summary>
    public bool CompleteOnReceiveThread { get; init; }

    /// <summary>Where the client logs failovers, promotions followed and table rewrites; nowhere when null.</summary>
    public Microsoft.Extensions.Logging.ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>
    /// The pair's client secret, when the nodes were started with one: proven in the handshake, never sent.
    /// Read it from a file or a secret store, not from source code.
    /// </summary>
    public byte[]? Secret { get; init; }

    /// <summary>
    /// How long a request may wait for its reply before the node is suspected and the request retried
    /// elsewhere: 1 s, well above a loaded loopback or LAN reply, and short enough for a failover to feel
    /// like a hiccup. A killed process is usually detected sooner, by the connection reset.
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// READs retried at once when the copy was torn (a writer was mid-update), before falling back to LOOKUP:
    /// 3, since a torn read needs a write to the same slot within the read's microseconds, twice in a row is rare.
    /// </summary>
    public int TornReadRetries { get; init; } = 3;

    /// <summary>
    /// After a primary failure, fetch the translation once and rewrite the local table, so that reads go to
    /// the secondary as plain one-sided READs; when off, every read is a FAILOVER_READ. On by default.
    /// </summary>
    public bool RewriteTableOnFailover { get; init; } = true;

    /// <summary>
    /// How long a write or a read waits for a node that serves after the primary failed or stopped serving
    /// (the secondary promoted, or the primary serving again after a pause of its secondary), and how long a
    /// read keeps trying while the nodes refuse it or its connections fail: 5 s, several times the pair's
    /// detection time for a silent primary (1 s by default), before it fails as Unavailable.
    /// </summary>
    public TimeSpan PromotionWait { get; init; } = TimeSpan.FromSeconds(5);

    // For the error of a wait that ran out: " within 5.0 s", or nothing with no wait at all (PromotionWait 0: one try).
    internal static string WithinPromotionWait(TimeSpan wait) => wait > TimeSpan.Zero ? $" within {wait.TotalSeconds:F1} s" : "";

    /// <summary>
    /// Which node one-sided reads go to while both serve: <see cref="Client.ReadFrom.PreferPrimary"/> (hedged) by
    /// default. Safe in sync mode (the default): the secondary has applied every acknowledged write, and it
    /// refuses FAILOVER_READ whenever it cannot be sure of that (docs/failover.md, "Hedged reads").
    /// </summary>
    public ReadFrom ReadFrom { get; init; } = ReadFrom.PreferPrimary;

    /// <summary>
    /// How long a READ waits for its first node before it is sent to the other as well; null (the default)
    /// derives it from the client's own recent READs: twice their 99th percentile, at least
    /// <see cref="MinHedgeDelay"/> and at most a quarter of <see cref="RequestTimeout"/>. So about one read in a
    /// hundred or fewer is hedged while the primary is healthy, and a frozen primary costs the reads in flight
    /// at the freeze about this long (after a hedge, reads start at the secondary until the primary sends
    /// anything again). Until 64 reads were timed, 20 ms.
    /// </summary>
    public TimeSpan? HedgeDelay { get; init; }

    /// <summary>
    /// The floor of the derived hedge delay: 2 ms. Below that a loaded machine's scheduling noise (a thread-pool
    /// hop is 0.1-1 ms under load) would send hedges for reads that were about to complete.
    /// </summary>
    public TimeSpan MinHedgeDelay { get; init; } = TimeSpan.FromMilliseconds(2);

    /// <summary>
    /// Where the client reports its connection state; the cache passes its own, which outlives the clients it
    /// makes. Null: the client makes one for itself.
    /// </summary>
    internal ConnectionHealth? Health { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad option.</summary>
    public void Validate()
    {
        IReadOnlyList<EndPoint> endPoints = AllEndPoints();
        if (endPoints.Count == 0)
        {
            throw new ArgumentException($"EndPoints must name at least one node of the pair (for example {MirrorKvEndPoints.Example}).");
        }

        foreach (EndPoint endPoint in endPoints)
        {
            if (endPoint is not (IPEndPoint { Port: > 0 } or DnsEndPoint { Port: > 0 }))
            {
                throw new ArgumentException($"EndPoints: '{endPoint}' is not an IP or DNS endpoint with a port.");
            }
        }

        if (ConnectTimeout <= TimeSpan.Zero || RequestTimeout <= TimeSpan.Zero || PromotionWait < TimeSpan.Zero || MaxReconnectDelay <= TimeSpan.Zero)
        {
            throw new ArgumentException("ConnectTimeout, RequestTimeout and MaxReconnectDelay must be positive, PromotionWait not negative.");
        }

        if (HedgeDelay is { } hedge && (hedge <= TimeSpan.Zero || hedge >= RequestTimeout) || MinHedgeDelay <= TimeSpan.Zero || MinHedgeDelay >= RequestTimeout)
        {
            throw new ArgumentException($"HedgeDelay and MinHedgeDelay must be positive and below RequestTimeout ({RequestTimeout.TotalMilliseconds:F0} ms).");
        }

        if (!Enum.IsDefined(ReadFrom))
        {
            throw new ArgumentException($"ReadFrom must be one of {string.Join(", ", Enum.GetNames<ReadFrom>())}; got {ReadFrom}.");
        }

        if (TornReadRetries is < 0 or > 100)
        {
            throw new ArgumentException($"TornReadRetries must be between 0 and 100; got {TornReadRetries}.");
        }
    }

    /// <summary><see cref="EndPoints"/> and the older shorthands, each once, in that order.</summary>
    internal IReadOnlyList<EndPoint> AllEndPoints()
    {
        var all = new List<EndPoint>(EndPoints ?? []);
#pragma warning disable CS0618 // The shorthands are read here only, to keep older configurations working.
        foreach (IPEndPoint? shorthand in (IPEndPoint?[])[PrimaryEndPoint, SecondaryEndPoint])
#pragma warning restore CS0618
        {
            if (shorthand is not null && !all.Contains(shorthand))
            {
                all.Add(shorthand);
            }
        }

        return all;
    }
}
