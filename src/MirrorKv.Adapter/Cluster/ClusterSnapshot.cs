using System.Net;
using MirrorKv.Protocol;

namespace MirrorKv.Adapter;

/// <summary>What etcd holds for a cluster at one moment: its map and the primary of each pair that has one.</summary>
/// <param name="Map">The map, or null when none was written yet.</param>
/// <param name="MapRevision">etcd's modification revision of the map key (0 when absent): what a compare-and-swap compares.</param>
/// <param name="Leaders">Pair id to its primary's endpoint and epoch, for the pairs whose leader key exists.</param>
public sealed record ClusterSnapshot(ClusterMap? Map, long MapRevision, IReadOnlyDictionary<string, (IPEndPoint EndPoint, ulong Epoch)> Leaders)
{
    /// <summary>etcd's create revision of the map key, compared beside <see cref="MapRevision"/>.</summary>
    internal long MapCreateRevision { get; init; }

    /// <summary>The primary of pair <paramref name="pairId"/> as etcd names it, or null.</summary>
    public IPEndPoint? PrimaryOf(string pairId) => Leaders.TryGetValue(pairId, out (IPEndPoint EndPoint, ulong Epoch) leader) ? leader.EndPoint : null;
}
