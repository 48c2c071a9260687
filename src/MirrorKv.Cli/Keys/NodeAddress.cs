using System.Net;

namespace MirrorKv.Cli.Keys;

/// <summary>
/// The node an operator command talks to: <c>host:port</c> is its native port (always there);
/// <c>redis://host:port</c> is its RESP port (<c>serve --resp-listen</c>), the route for what the native
/// protocol has no request for (times to live, SCAN) and for reading a secondary's own copy.
/// </summary>
internal readonly record struct NodeAddress(IPEndPoint EndPoint, bool IsResp)
{
    public const string RespScheme = "redis://";

    public static bool TryParse(string text, out NodeAddress address, out string? error)
    {
        bool resp = text.StartsWith(RespScheme, StringComparison.OrdinalIgnoreCase);
        string rest = resp ? text[RespScheme.Length..].TrimEnd('/') : text;
        if (!resp && text.Contains("://", StringComparison.Ordinal))
        {
            address = default;
            error = $"'{text}': a node is host:port (its native port) or redis://host:port (its RESP port)";
            return false;
        }

        if (!CliParsers.TryParseEndPoint(rest, out IPEndPoint? endPoint, out error))
        {
            address = default;
            return false;
        }

        address = new NodeAddress(endPoint!, resp);
        return true;
    }

    public override string ToString() => IsResp ? $"{RespScheme}{EndPoint}" : EndPoint.ToString();
}
