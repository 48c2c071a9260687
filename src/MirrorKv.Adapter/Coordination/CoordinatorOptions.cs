namespace MirrorKv.Adapter;

/// <summary>
/// Where a pair keeps its leader key and epoch: etcd, as the witness that tells a dead or paused node from a
/// cut link. A node without one (<c>NodeOptions.Coordinator</c> null) runs in pair mode.
/// </summary>
public sealed record CoordinatorOptions
{
    /// <summary>etcd client URLs (<c>http://127.0.0.1:2379</c>), tried in turn.</summary>
    public required IReadOnlyList<Uri> Endpoints { get; init; }

    /// <summary>The pair's name: its keys live under <c>/mirrorkv/pairs/{PairName}/</c>. Both nodes need the same.</summary>
    public string PairName { get; init; } = "default";

    /// <summary>
    /// TTL of the primary's etcd lease: 2 s (etcd's own minimum with its default election timeout). A
    /// primary that stops renewing it stops serving after half of it, and the secondary can take over once
    /// etcd has let it expire: this bounds a failover after a silent primary death.
    /// </summary>
    public TimeSpan LeaseTtl { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long one request to etcd may take: 500 ms, a quarter of the lease.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The leader key.</summary>
    internal string LeaderKey => $"/mirrorkv/pairs/{PairName}/leader";

    /// <summary>The highest epoch ever granted (no lease: it survives everything).</summary>
    internal string EpochKey => $"/mirrorkv/pairs/{PairName}/epoch";

    /// <summary>Which nodes hold every acknowledged write (<see cref="InSyncRecord"/>; no lease: it outlives the primary).</summary>
    internal string InSyncKey => $"/mirrorkv/pairs/{PairName}/in-sync";

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad option.</summary>
    public void Validate()
    {
        if (Endpoints is null || Endpoints.Count == 0 || Endpoints.Any(e => e is null || !e.IsAbsoluteUri || e.Scheme is not ("http" or "https")))
        {
            throw new ArgumentException("Coordinator endpoints must be one or more absolute http(s) URLs of etcd, e.g. http://127.0.0.1:2379.");
        }

        if (string.IsNullOrWhiteSpace(PairName) || PairName.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
        {
            throw new ArgumentException($"PairName must be letters, digits, '-', '_' or '.'; got '{PairName}'.");
        }

        if (LeaseTtl < TimeSpan.FromSeconds(1) || RequestTimeout <= TimeSpan.Zero || RequestTimeout >= LeaseTtl)
        {
            throw new ArgumentException($"LeaseTtl must be at least 1 s and RequestTimeout positive and below it; got {LeaseTtl} and {RequestTimeout}.");
        }
    }
}
