using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace MirrorKv.Adapter;

/// <summary>
/// The pair's in-sync key in etcd: which nodes hold every write the primary of <paramref name="Epoch"/> has
/// acknowledged. The leader always does; <paramref name="Secondary"/> does from the moment the primary
/// recorded it (after it caught up) until the primary cleared it (before acknowledging a write without it).
/// A node may take the leader key only if it is one of the two, so a secondary the primary dropped cannot
/// promote on a copy that lacks writes, even when it never heard of the drop. Kafka's in-sync replica set,
/// kept in its controller, is the same idea.
/// </summary>
/// <param name="Epoch">The epoch of the primary that wrote it.</param>
/// <param name="Leader">That primary's endpoint.</param>
/// <param name="Secondary">The secondary holding every acknowledged write too, or null when the primary acknowledges alone.</param>
internal sealed record InSyncRecord(ulong Epoch, IPEndPoint Leader, IPEndPoint? Secondary)
{
    /// <summary>Whether <paramref name="node"/> holds every acknowledged write per this record.</summary>
    public bool Names(IPEndPoint node) => Leader.Equals(node) || node.Equals(Secondary);

    /// <summary>A node other than <paramref name="node"/> that holds every acknowledged write per this record, or null.</summary>
    public IPEndPoint? OtherThan(IPEndPoint node) => !Leader.Equals(node) ? Leader : Secondary is { } s && !s.Equals(node) ? s : null;

    public byte[] Encode() => Encoding.UTF8.GetBytes(new JsonObject
    {
        ["epoch"] = Epoch,
        ["leader"] = Leader.ToString(),
        ["secondary"] = Secondary?.ToString(),
    }.ToJsonString());

    /// <summary>The record, or null when the value is absent or unreadable (then nobody is excluded: a pair from before the key existed).</summary>
    public static InSyncRecord? Decode(byte[]? value)
    {
        if (value is not { Length: > 0 })
        {
            return null;
        }

        try
        {
            JsonNode? node = JsonNode.Parse(value);
            if (node is null || !IPEndPoint.TryParse(node["leader"]?.GetValue<string>() ?? "", out IPEndPoint? leader))
            {
                return null;
            }

            IPEndPoint? secondary = node["secondary"]?.GetValue<string>() is { } text && IPEndPoint.TryParse(text, out IPEndPoint? parsed) ? parsed : null;
            return new InSyncRecord(node["epoch"]!.GetValue<ulong>(), leader, secondary);
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or FormatException or NullReferenceException)
        {
            return null;
        }
    }

    public override string ToString() => Secondary is null ? $"{Leader} alone at epoch {Epoch}" : $"{Leader} and {Secondary} at epoch {Epoch}";
}
