using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using MirrorKv.Protocol;

namespace MirrorKv.Adapter;

/// <summary>
/// The cluster map as etcd keeps it (<c>/mirrorkv/clusters/{name}/map</c>): JSON, so that an operator reads it
/// with <c>etcdctl get</c>: <c>{"version":3,"pairs":[{"id":"p1","members":[{"endpoint":"127.0.0.1:7400",
/// "resp":"127.0.0.1:8400"}]}],"slots":[{"first":0,"last":5461,"pair":"p1"}]}</c>; a moving range also has
/// <c>"migrating":"p2","phase":"copy"</c> (or <c>"handoff"</c>). The cluster's name is the key's; the wire form
/// for clients is <see cref="ClusterMapMessages"/>, which carries ownership only.
/// </summary>
internal static class ClusterMapRecord
{
    public static byte[] Encode(ClusterMap map)
    {
        var pairs = new JsonArray();
        foreach (ClusterPair pair in map.Pairs)
        {
            var members = new JsonArray();
            foreach (ClusterMember member in pair.Members)
            {
                var m = new JsonObject { ["endpoint"] = member.EndPoint.ToString() };
                if (member.RespEndPoint is not null)
                {
                    m["resp"] = member.RespEndPoint.ToString();
                }

                members.Add(m);
            }

            pairs.Add(new JsonObject { ["id"] = pair.Id, ["members"] = members });
        }

        var slots = new JsonArray();
        foreach (SlotRange range in map.Ranges)
        {
            var slot = new JsonObject { ["first"] = range.First, ["last"] = range.Last, ["pair"] = range.PairId };
            if (range.MigratingTo is not null)
            {
                slot["migrating"] = range.MigratingTo;
                slot["phase"] = PhaseName(range.Phase);
            }

            slots.Add(slot);
        }

        return Encoding.UTF8.GetBytes(new JsonObject { ["version"] = map.Version, ["pairs"] = pairs, ["slots"] = slots }.ToJsonString());
    }

    /// <summary>Decodes; throws <see cref="FormatException"/> saying what is wrong (a map an operator broke by hand).</summary>
    public static ClusterMap Decode(string cluster, byte[] value)
    {
        try
        {
            JsonNode root = JsonNode.Parse(value) ?? throw new FormatException("empty");
            var pairs = new List<ClusterPair>();
            foreach (JsonNode? pair in root["pairs"]!.AsArray())
            {
                var members = new List<ClusterMember>();
                foreach (JsonNode? member in pair!["members"]!.AsArray())
                {
                    members.Add(new ClusterMember(EndPoint(member!["endpoint"])!, EndPoint(member["resp"])));
                }

                pairs.Add(new ClusterPair(pair["id"]!.GetValue<string>(), members));
            }

            var ranges = new List<SlotRange>();
            foreach (JsonNode? range in root["slots"]!.AsArray())
            {
                string? migrating = range!["migrating"]?.GetValue<string>();
                MigrationPhase phase = range["phase"] is { } p ? Phase(p.GetValue<string>()) : MigrationPhase.None;
                ranges.Add(new SlotRange(range["first"]!.GetValue<int>(), range["last"]!.GetValue<int>(), range["pair"]!.GetValue<string>(), migrating, phase));
            }

            return new ClusterMap(cluster, root["version"]!.GetValue<ulong>(), pairs, ranges);
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or NullReferenceException or ArgumentException or FormatException)
        {
            throw new FormatException($"the map of cluster '{cluster}' in etcd is not valid: {e.Message}", e);
        }
    }

    private static string PhaseName(MigrationPhase phase) => phase == MigrationPhase.Copy ? "copy" : "handoff";

    private static MigrationPhase Phase(string name) => name switch
    {
        "copy" => MigrationPhase.Copy,
        "handoff" => MigrationPhase.Handoff,
        _ => throw new FormatException($"phase '{name}' is not copy or handoff"),
    };

    private static IPEndPoint? EndPoint(JsonNode? node) => node is null ? null
        : IPEndPoint.TryParse(node.GetValue<string>(), out IPEndPoint? endPoint) ? endPoint
        : throw new FormatException(string.Create(CultureInfo.InvariantCulture, $"'{node.GetValue<string>()}' is not host:port"));
}
