using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace MirrorKv.Adapter;

/// <summary>
/// The pair's leader key in etcd: which node is primary, under which epoch, holding which etcd lease. The
/// key is attached to that lease, so it vanishes when the lease expires or is revoked.
/// </summary>
/// <param name="Epoch">The primary's epoch.</param>
/// <param name="EndPoint">Where clients and a joining secondary reach it.</param>
/// <param name="Lease">The etcd lease the key is attached to.</param>
internal sealed record LeaderRecord(ulong Epoch, IPEndPoint EndPoint, long Lease)
{
    public byte[] Encode() => Encoding.UTF8.GetBytes(new JsonObject
    {
        ["epoch"] = Epoch,
        ["endpoint"] = EndPoint.ToString(),
        ["lease"] = Lease,
    }.ToJsonString());

    public static LeaderRecord? Decode(byte[]? value, long lease)
    {
        if (value is null)
        {
            return null;
        }

        try
        {
            JsonNode? node = JsonNode.Parse(value);
            return node is not null && IPEndPoint.TryParse(node["endpoint"]?.GetValue<string>() ?? "", out IPEndPoint? endPoint)
                ? new LeaderRecord(node["epoch"]!.GetValue<ulong>(), endPoint, lease)
                : null;
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or FormatException or NullReferenceException)
        {
            return null;
        }
    }

    public override string ToString() => $"{EndPoint} at epoch {Epoch}";
}
