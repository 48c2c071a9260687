namespace MirrorKv.Adapter;

/// <summary>
/// Where a pair keeps its leader key and epoch: etcd, as the witness that tells a dead or paused node from a
/// cut link. A node without one (<c>NodeOptions.Coordinator</c> null) runs in pair mode.
/// </summary>
public sealed record CoordinatorOptions
{
    /// <summary>etcd client URLs (<c>http://127.0.0.1:2379</c>), tried in turn.</summary>
    public required IReadOnlyList<Uri> EndPoints { get; init; }

    /// <summary>
    /// The pair's name: its keys live under <c>/mirrorkv/pairs/{PairName}/</c>, or, in a cluster, under
    /// <c>/mirrorkv/clusters/{Cluster}/pairs/{PairName}/</c> (the pair id). Both nodes need the same.
    /// </summary>
    public string PairName { get; init; } = "default";

    /// <summary>
    /// The cluster this pair belongs to (<c>serve --cluster</c>), or null for a pair on its own. In a cluster the
    /// pair's keys move under the cluster's prefix, the node serves only the hash slots the cluster map gives
    /// <see cref="PairName"/>, and redirects the others (docs/scale-out.md).
    /// </summary>
    public string? Cluster { get; init; }

    /// <summary>Where the pair's keys live.</summary>
    internal string PairPrefix => Cluster is null ? $"/mirrorkv/pairs/{PairName}/" : $"{ClusterDirectory.PrefixOf(Cluster)}pairs/{PairName}/";

    /// <summary>
    /// TTL of the primary's etcd lease: 2 s (etcd's own minimum with its default election timeout). A
    /// primary that stops renewing it stops serving after half of it, and the secondary can take over once
    /// etcd has let it expire: this bounds a failover after a silent primary death.
    /// </summary>
    public TimeSpan LeaseTtl { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long one request to etcd may take: 500 ms, a quarter of the lease.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The leader key.</summary>
    internal string LeaderKey => $"{PairPrefix}leader";

    /// <summary>The highest epoch ever granted (no lease: it survives everything).</summary>
    internal string EpochKey => $"{PairPrefix}epoch";

    /// <summary>Which nodes hold every acknowledged write (<see cref="InSyncRecord"/>; no lease: it outlives the primary).</summary>
    internal string InSyncKey => $"{PairPrefix}in-sync";

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad option.</summary>
    public void Validate()
    {
        if (EndPoints is null || EndPoints.Count == 0 || EndPoints.Any(e => e is null || !e.IsAbsoluteUri || e.Scheme is not ("http" or "https")))
        {
            throw new ArgumentException("Coordinator endpoints must be one or more absolute http(s) URLs of etcd, e.g. http://127.0.0.1:2379.");
        }

        if (string.IsNullOrWhiteSpace(PairName) || PairName.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
        {
            throw new ArgumentException($"PairName must be letters, digits, '-', '_' or '.'; got '{PairName}'.");
        }

        if (Cluster is not null && !Protocol.ClusterMap.IsValidName(Cluster))
        {
            throw new ArgumentException($"Cluster must be 1 to {Protocol.ClusterMap.MaxNameLength} letters, digits, '-', '_' or '.'; got '{Cluster}'.");
        }

        if (Cluster is not null && !Protocol.ClusterMap.IsValidName(PairName))
        {
            throw new ArgumentException($"In a cluster the pair id must be 1 to {Protocol.ClusterMap.MaxNameLength} letters, digits, '-', '_' or '.'; got '{PairName}'.");
        }

        if (LeaseTtl < TimeSpan.FromSeconds(1) || RequestTimeout <= TimeSpan.Zero || RequestTimeout >= LeaseTtl)
        {
            throw new ArgumentException($"LeaseTtl must be at least 1 s and RequestTimeout positive and below it; got {LeaseTtl} and {RequestTimeout}.");
        }
    }
}
