using System.Globalization;
using System.Net;
using System.Text;

namespace MirrorKv.Protocol;

/// <summary>
/// The payload of a reply with status <see cref="WireStatus.Moved"/>: UTF-8 text, like every error reply, in
/// a fixed form that clients parse, <c>MOVED &lt;slot&gt; &lt;endpoint&gt; &lt;pair id&gt; &lt;map version&gt;</c>
/// (single spaces; the endpoint <c>host:port</c> of the owning pair's primary as etcd names it, IPv6 in
/// brackets, or <c>-</c> when the refusing node does not know it), e.g.
/// <c>MOVED 866 127.0.0.1:7402 p2 3</c>. The first three tokens read as Redis Cluster's MOVED error.
/// </summary>
/// <param name="Slot">The key's hash slot.</param>
/// <param name="EndPoint">The owning pair's primary, or null when not known.</param>
/// <param name="PairId">The owning pair.</param>
/// <param name="MapVersion">The version of the map the node refused by: a client with an older one refreshes it.</param>
public sealed record Redirect(int Slot, IPEndPoint? EndPoint, string PairId, ulong MapVersion)
{
    /// <summary>The text as the node sends it.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"MOVED {Slot} {EndPoint?.ToString() ?? "-"} {PairId} {MapVersion}");

    /// <summary>Parses a Moved reply's payload; false when it is not in the documented form.</summary>
    public static bool TryParse(ReadOnlySpan<byte> payload, out Redirect? redirect) => TryParse(Encoding.UTF8.GetString(payload), out redirect);

    /// <summary>Parses the text of a Moved reply (or a MirrorKvException's message ending in it).</summary>
    public static bool TryParse(string text, out Redirect? redirect)
    {
        redirect = null;
        int start = text?.LastIndexOf("MOVED ", StringComparison.Ordinal) ?? -1;
        if (start < 0)
        {
            return false;
        }

        string[] tokens = text![start..].Split(' ');
        if (tokens.Length != 5
            || !int.TryParse(tokens[1], NumberStyles.None, CultureInfo.InvariantCulture, out int slot) || slot >= HashSlot.Count
            || !ClusterMap.IsValidName(tokens[3])
            || !ulong.TryParse(tokens[4], NumberStyles.None, CultureInfo.InvariantCulture, out ulong version))
        {
            return false;
        }

        IPEndPoint? endPoint = null;
        if (tokens[2] != "-" && !IPEndPoint.TryParse(tokens[2], out endPoint))
        {
            return false;
        }

        redirect = new Redirect(slot, endPoint, tokens[3], version);
        return true;
    }
}
