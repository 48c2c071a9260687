using System.Net;
using MirrorKv.Protocol;

namespace MirrorKv.Adapter;

/// <summary>
/// One map with what a node derives from it and from the pairs' leader keys: replaced whole when etcd changes,
/// never changed, so a receive thread reads one consistent view with one volatile read.
/// </summary>
/// <param name="Map">The map in force.</param>
/// <param name="MyIndex">This node's pair's index in the map's pairs, or -1 when the map does not list it.</param>
/// <param name="Primaries">Per pair (map order): its primary's native endpoint as etcd names it, or null.</param>
/// <param name="Epochs">Per pair: the epoch of that primary's leader key (0 when none).</param>
/// <param name="Encoded">The map in CLUSTER_MAP's reply form, encoded once per view.</param>
internal sealed record ClusterView(ClusterMap Map, int MyIndex, IPEndPoint?[] Primaries, ulong[] Epochs, byte[] Encoded)
{
    /// <summary>
    /// Per pair: which of its members is the primary (index into the pair's members), or -1 when etcd names no
    /// primary or names one that is not a member by the map.
    /// </summary>
    public int[] PrimaryMembers { get; } = FindPrimaryMembers(Map, Primaries);

    /// <summary>
    /// Where redis clients reach the primary of pair <paramref name="pairIndex"/>: its RESP endpoint by the map,
    /// or null when no primary is known or the map gives it no RESP endpoint.
    /// </summary>
    public IPEndPoint? RespPrimary(int pairIndex) =>
        PrimaryMembers[pairIndex] is int member and >= 0 ? Map.Pairs[pairIndex].Members[member].RespEndPoint : null;

    private static int[] FindPrimaryMembers(ClusterMap map, IPEndPoint?[] primaries)
    {
        var found = new int[map.Pairs.Count];
        for (int i = 0; i < found.Length; i++)
        {
            found[i] = -1;
            IReadOnlyList<ClusterMember> members = map.Pairs[i].Members;
            for (int m = 0; m < members.Count && primaries[i] is not null; m++)
            {
                if (members[m].EndPoint.Equals(primaries[i]))
                {
                    found[i] = m;
                    break;
                }
            }
        }

        return found;
    }
}
