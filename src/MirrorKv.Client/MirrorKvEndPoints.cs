using System.Globalization;
using System.Net;

namespace MirrorKv.Client;

/// <summary>
/// The endpoint list of a pair as one string, for configuration files and environment variables:
/// <c>host:port</c> items separated by commas, in any order, e.g. <c>"10.0.0.5:7400,10.0.0.6:7400"</c>,
/// <c>"kv-a.internal:7400, kv-b.internal:7400"</c> or <c>"[fd00::5]:7400,[fd00::6]:7400"</c>. A host is an IPv4
/// address, an IPv6 address in brackets, or a DNS name (resolved at every connection attempt, so a node that
/// comes back under a new address is found). The port is required. Spaces around items are ignored.
/// </summary>
public static class MirrorKvEndPoints
{
    /// <summary>An example of the format, for error messages.</summary>
    public const string Example = "host1:7400,host2:7400 (IPv6 in brackets: [fd00::5]:7400)";

    /// <summary>Parses <paramref name="text"/>; throws <see cref="FormatException"/> naming the first bad item.</summary>
    public static IReadOnlyList<EndPoint> Parse(string text) =>
        TryParse(text, out IReadOnlyList<EndPoint> endPoints, out string? error) ? endPoints : throw new FormatException(error);

    /// <summary>Parses <paramref name="text"/>; on failure <paramref name="error"/> says which item is wrong and why.</summary>
    public static bool TryParse(string? text, out IReadOnlyList<EndPoint> endPoints, out string? error)
    {
        endPoints = [];
        if (string.IsNullOrWhiteSpace(text))
        {
            error = $"no endpoint given; expected {Example}";
            return false;
        }

        var parsed = new List<EndPoint>();
        foreach (string raw in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (raw.Length == 0)
            {
                error = $"'{text}' has an empty item; expected {Example}";
                return false;
            }

            if (!TryParseOne(raw, out EndPoint? endPoint, out error))
            {
                return false;
            }

            if (!parsed.Contains(endPoint!))
            {
                parsed.Add(endPoint!);
            }
        }

        endPoints = parsed;
        error = null;
        return true;
    }

    /// <summary>The list as <see cref="Parse"/> reads it.</summary>
    public static string Format(IEnumerable<EndPoint> endPoints)
    {
        ArgumentNullException.ThrowIfNull(endPoints);
        return string.Join(',', endPoints.Select(Describe));
    }

    /// <summary>One endpoint as <c>host:port</c> (a <see cref="DnsEndPoint"/>'s ToString adds its address family).</summary>
    internal static string Describe(EndPoint endPoint) => endPoint switch
    {
        DnsEndPoint dns => $"{dns.Host}:{dns.Port.ToString(CultureInfo.InvariantCulture)}",
        _ => endPoint.ToString() ?? "?",
    };

    private static bool TryParseOne(string item, out EndPoint? endPoint, out string? error)
    {
        endPoint = null;
        int colon = item.LastIndexOf(':');
        string host = colon > 0 ? item[..colon] : "";
        string portText = colon > 0 ? item[(colon + 1)..] : "";
        if (colon <= 0 || (host.Contains(':', StringComparison.Ordinal) && !(host.StartsWith('[') && host.EndsWith(']'))))
        {
            // "::1:7400" is ambiguous: which colon starts the port?
            error = $"'{item}' is not host:port; expected {Example}";
            return false;
        }

        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
        {
            error = $"'{item}' has no valid port (1-65535); expected {Example}";
            return false;
        }

        string bare = host.StartsWith('[') ? host[1..^1] : host;
        if (IPAddress.TryParse(bare, out IPAddress? address))
        {
            endPoint = new IPEndPoint(address, port);
        }
        else if (!host.StartsWith('[') && Uri.CheckHostName(host) == UriHostNameType.Dns)
        {
            endPoint = new DnsEndPoint(host, port);
        }
        else
        {
            error = $"'{item}': '{host}' is neither an IP address nor a host name; expected {Example}";
            return false;
        }

        error = null;
        return true;
    }
}
