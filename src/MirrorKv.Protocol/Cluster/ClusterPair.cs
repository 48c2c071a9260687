namespace MirrorKv.Protocol;

/// <summary>
/// One pair of a cluster: its id (<c>serve --pair</c>) and its members. Which member is primary is not part of
/// the map: the pair's own coordinator keys say it (leases and epochs), and clients find it as they find a
/// pair's primary anywhere.
/// </summary>
/// <param name="Id">1 to 64 ASCII letters, digits, '-', '_' or '.'.</param>
/// <param name="Members">Its nodes, 1 to 255 (two for a protected pair).</param>
public sealed record ClusterPair(string Id, IReadOnlyList<ClusterMember> Members)
{
    /// <summary>Whether the pair's members are the same as <paramref name="other"/>'s, in the same order.</summary>
    public bool SameMembers(ClusterPair other) => other is not null && Id == other.Id && Members.SequenceEqual(other.Members);
}
