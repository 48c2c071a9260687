using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using MirrorKv.Protocol;

namespace MirrorKv.Adapter.Resp;

/// <summary>
/// The RESP port of a cluster node, as redis Cluster's: a keyed command whose keys' slot another pair owns is
/// answered <c>-MOVED slot ip:port</c> naming that pair's primary's RESP endpoint (by the map and the pairs'
/// leader keys in etcd); keys of different slots in one command get <c>-CROSSSLOT</c>; and CLUSTER INFO, MYID,
/// KEYSLOT, SLOTS, SHARDS and NODES describe the cluster to redis clients (redis-cli -c, StackExchange.Redis)
/// in redis's formats. docs/resp.md, "A cluster's RESP port".
/// </summary>
internal sealed partial class RespHandler
{
    private const string CrossSlot = "CROSSSLOT Keys in request don't hash to the same slot";

    /// <summary>
    /// Whether this node's pair owns the slot of <paramref name="request"/>'s keys; if not, the refusal is
    /// written. Runs for every keyed command on a cluster node: one CRC16 per key and one array read.
    /// </summary>
    private bool RoutedHere(ClusterGate cluster, RespCommandInfo command, in RespRequest request, RespOutput output)
    {
        int slot = HashSlot.Of(request[command.FirstKey]);
        int last = command.LastKey < 0 ? request.Count + command.LastKey : command.LastKey;
        for (int i = command.FirstKey + command.Step; i <= last; i += command.Step)
        {
            // redis's rule, whichever pairs own the slots: a multi-key command is atomic there, and here it is
            // served by one node's store in one pass, so its keys must be one slot's.
            if (HashSlot.Of(request[i]) != slot)
            {
                output.Error(CrossSlot);
                return false;
            }
        }

        ClusterView view = cluster.View!;
        int owner = view.Map.OwnerIndex(slot);
        if (owner == view.MyIndex && view.Map.MigrationOf(slot, out int target) is not MigrationPhase.None and var phase
            && (phase == MigrationPhase.Handoff || command.Access == RespCommandAccess.Write))
        {
            // The slot is moving away: writes wait for the move to end (copy), every command does in handoff. redis's
            // TRYAGAIN, not MOVED: the target takes no client's write before the map gives it the slot, and a
            // client sent there would only be sent back.
            Interlocked.Increment(ref _node.Counters.Redirects);
            output.Error(string.Create(CultureInfo.InvariantCulture, $"TRYAGAIN slot {slot} is moving to pair {view.Map.Pairs[target].Id} (map version {view.Map.Version}); retry shortly"));
            return false;
        }

        if (owner == view.MyIndex && command.Access == RespCommandAccess.Write && _node.Role == NodeRole.Primary && !cluster.LeadsUnder(_node.Epoch))
        {
            // A new primary whose view was read before its claim: see ClusterGate.LeadsUnder.
            Interlocked.Increment(ref _node.Counters.Redirects);
            output.Error("TRYAGAIN this node has just become primary and is reading the cluster map; retry shortly");
            return false;
        }

        if (owner == view.MyIndex)
        {
            // A write at this pair's secondary goes to the pair's primary, as redis Cluster sends a replica's
            // writes to its master (reads the secondary serves: it holds every acknowledged write). With no
            // other primary known, MayRun refuses it as on a pair's node (READONLY, LOADING).
            if (command.Access != RespCommandAccess.Write || _node.Role == NodeRole.Primary
                || view.RespPrimary(owner) is not { } ownPrimary || _node.AdvertisedEndPoint.Equals(view.Primaries[owner]))
            {
                return true;
            }

            Interlocked.Increment(ref _node.Counters.Redirects);
            output.Error(string.Create(CultureInfo.InvariantCulture, $"MOVED {slot} {ownPrimary.Address}:{ownPrimary.Port}"));
            return false;
        }

        Interlocked.Increment(ref _node.Counters.Redirects);
        output.Error(view.RespPrimary(owner) is { } primary
            ? string.Create(CultureInfo.InvariantCulture, $"MOVED {slot} {primary.Address}:{primary.Port}")
            : $"CLUSTERDOWN Hash slot {slot} belongs to pair {view.Map.Pairs[owner].Id}, whose primary is not known or serves no RESP port; retry shortly");
        return false;
    }

    // CLUSTER <subcommand> [arguments]
    private void Cluster(RespSession session, in RespRequest request)
    {
        RespOutput output = session.Output;
        string sub = Printable(request[1], 32).ToUpperInvariant();
        if (_node.Cluster?.View is not { } view)
        {
            output.Error("ERR This instance has cluster support disabled");
            return;
        }

        int arity = sub == "KEYSLOT" ? 3 : 2;
        if (sub is "INFO" or "MYID" or "KEYSLOT" or "SLOTS" or "SHARDS" or "NODES" && request.Count != arity)
        {
            output.Error($"ERR wrong number of arguments for 'cluster|{sub.ToLowerInvariant()}' command");
            return;
        }

        switch (sub)
        {
            case "KEYSLOT":
                output.Integer(HashSlot.Of(request[2]));
                break;
            case "MYID":
                output.Bulk(NodeId(view.Map, _node.AdvertisedEndPoint));
                break;
            case "INFO":
                output.Verbatim(ClusterInfo(view));
                break;
            case "NODES":
                output.Verbatim(ClusterNodes(view));
                break;
            case "SLOTS":
                ClusterSlots(view, output);
                break;
            case "SHARDS":
                ClusterShards(view, output);
                break;
            default:
                output.Error($"ERR unknown subcommand '{Printable(request[1], 64)}'. Try CLUSTER HELP.");
                break;
        }
    }

    private static string ClusterInfo(ClusterView view)
    {
        int served = 0;
        int known = 0;
        foreach (SlotRange range in view.Map.Ranges)
        {
            served += Lead(view, view.Map.IndexOf(range.PairId)) is (>= 0, true) ? range.Count : 0;
        }

        foreach (ClusterPair pair in view.Map.Pairs)
        {
            known += pair.Members.Count(m => m.RespEndPoint is not null);
        }

        var text = new StringBuilder();
        Field(text, "cluster_state", served == HashSlot.Count ? "ok" : "fail");
        Field(text, "cluster_slots_assigned", HashSlot.Count);
        Field(text, "cluster_slots_ok", served);
        Field(text, "cluster_slots_pfail", HashSlot.Count - served);
        Field(text, "cluster_slots_fail", 0);
        Field(text, "cluster_known_nodes", known);
        Field(text, "cluster_size", view.Map.Pairs.Count(p => view.Map.SlotsOf(p.Id) > 0));
        Field(text, "cluster_current_epoch", (long)view.Map.Version);
        Field(text, "cluster_my_epoch", view.MyIndex < 0 ? 0 : (long)view.Epochs[view.MyIndex]);
        Field(text, "mirrorkv_cluster", view.Map.Name);
        Field(text, "mirrorkv_map_version", (long)view.Map.Version);
        Field(text, "mirrorkv_pair", view.MyIndex < 0 ? "-" : view.Map.Pairs[view.MyIndex].Id);
        return text.ToString();
    }

    // One line per member with a RESP port: id, ip:port@native port, flags, its primary's id or -, ping sent,
    // pong received, config epoch (the pair's epoch), link state, and for a pair's lead member its slot ranges.
    private string ClusterNodes(ClusterView view)
    {
        var text = new StringBuilder();
        for (int p = 0; p < view.Map.Pairs.Count; p++)
        {
            (int lead, bool isPrimary) = Lead(view, p);
            if (lead < 0)
            {
                continue;
            }

            IReadOnlyList<ClusterMember> members = view.Map.Pairs[p].Members;
            string leadId = NodeId(view.Map, members[lead].EndPoint);
            for (int m = 0; m < members.Count; m++)
            {
                if (members[m].RespEndPoint is not { } resp)
                {
                    continue;
                }

                string flags = (members[m].EndPoint.Equals(_node.AdvertisedEndPoint) ? "myself," : "")
                    + (m == lead ? isPrimary ? "master" : "master,fail?" : "slave");
                text.Append(CultureInfo.InvariantCulture, $"{NodeId(view.Map, members[m].EndPoint)} {resp.Address}:{resp.Port}@{members[m].EndPoint.Port} {flags} {(m == lead ? "-" : leadId)} 0 0 {view.Epochs[p]} connected");
                if (m == lead)
                {
                    foreach (SlotRange range in view.Map.Ranges)
                    {
                        if (range.PairId == view.Map.Pairs[p].Id)
                        {
                            text.Append(' ').Append(range.First);
                            if (range.Last != range.First)
                            {
                                text.Append('-').Append(range.Last);
                            }
                        }
                    }
                }

                text.Append('\n');
            }
        }

        return text.ToString();
    }

    // One entry per slot range: first, last, the owning pair's lead member, then its other members with a RESP port.
    private static void ClusterSlots(ClusterView view, RespOutput output)
    {
        var rows = new List<(SlotRange Range, int Pair, int Lead)>();
        foreach (SlotRange range in view.Map.Ranges)
        {
            int pair = view.Map.IndexOf(range.PairId);
            if (Lead(view, pair) is (>= 0 and var lead, _))
            {
                rows.Add((range, pair, lead));
            }
        }

        output.Array(rows.Count);
        foreach ((SlotRange range, int pair, int lead) in rows)
        {
            IReadOnlyList<ClusterMember> members = view.Map.Pairs[pair].Members;
            output.Array(2 + members.Count(m => m.RespEndPoint is not null));
            output.Integer(range.First);
            output.Integer(range.Last);
            SlotsNode(view.Map, members[lead], output);
            for (int m = 0; m < members.Count; m++)
            {
                if (m != lead && members[m].RespEndPoint is not null)
                {
                    SlotsNode(view.Map, members[m], output);
                }
            }
        }
    }

    private static void SlotsNode(ClusterMap map, ClusterMember member, RespOutput output)
    {
        output.Array(3);
        output.Bulk(member.RespEndPoint!.Address.ToString());
        output.Integer(member.RespEndPoint.Port);
        output.Bulk(NodeId(map, member.EndPoint));
    }

    // One shard per pair with a RESP port: its slot ranges as [first, last, ...] and its members.
    private static void ClusterShards(ClusterView view, RespOutput output)
    {
        var shards = new List<(int Pair, int Lead, bool IsPrimary)>();
        for (int p = 0; p < view.Map.Pairs.Count; p++)
        {
            if (Lead(view, p) is (>= 0 and var lead, var isPrimary))
            {
                shards.Add((p, lead, isPrimary));
            }
        }

        output.Array(shards.Count);
        foreach ((int pair, int lead, bool isPrimary) in shards)
        {
            ClusterPair shard = view.Map.Pairs[pair];
            SlotRange[] ranges = [.. view.Map.Ranges.Where(r => r.PairId == shard.Id)];
            output.Map(2);
            output.Bulk("slots"u8);
            output.Array(2 * ranges.Length);
            foreach (SlotRange range in ranges)
            {
                output.Integer(range.First);
                output.Integer(range.Last);
            }

            output.Bulk("nodes"u8);
            output.Array(shard.Members.Count(m => m.RespEndPoint is not null));
            for (int m = 0; m < shard.Members.Count; m++)
            {
                if (shard.Members[m].RespEndPoint is not { } resp)
                {
                    continue;
                }

                output.Map(7);
                output.Bulk("id"u8);
                output.Bulk(NodeId(view.Map, shard.Members[m].EndPoint));
                output.Bulk("port"u8);
                output.Integer(resp.Port);
                output.Bulk("ip"u8);
                output.Bulk(resp.Address.ToString());
                output.Bulk("endpoint"u8);
                output.Bulk(resp.Address.ToString());
                output.Bulk("role"u8);
                output.Bulk(m == lead ? "master"u8 : "replica"u8);
                output.Bulk("replication-offset"u8);
                output.Integer(0);
                output.Bulk("health"u8);
                output.Bulk(m == lead && !isPrimary ? "fail"u8 : "online"u8);
            }
        }
    }

    /// <summary>
    /// The member of pair <paramref name="pair"/> that redis clients are told is its master: the primary when etcd
    /// names one and it has a RESP port (<c>IsPrimary</c>), else the first member with a RESP port (flagged
    /// <c>fail?</c>: none is known to serve writes right now); -1 when no member has a RESP port.
    /// </summary>
    private static (int Member, bool IsPrimary) Lead(ClusterView view, int pair)
    {
        int primary = view.PrimaryMembers[pair];
        IReadOnlyList<ClusterMember> members = view.Map.Pairs[pair].Members;
        if (primary >= 0 && members[primary].RespEndPoint is not null)
        {
            return (primary, true);
        }

        for (int m = 0; m < members.Count; m++)
        {
            if (members[m].RespEndPoint is not null)
            {
                return (m, false);
            }
        }

        return (-1, false);
    }

    /// <summary>
    /// A member's node id as redis clients see it: 40 hex digits (redis's form), the SHA-1 of the cluster's name
    /// and the member's native endpoint, so that every node names every member alike and across restarts.
    /// </summary>
    internal static string NodeId(ClusterMap map, IPEndPoint endPoint) =>
        Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes($"{map.Name}/{endPoint}")));
}
