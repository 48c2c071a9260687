using System.Net;
using System.Text;
using MirrorKv.Client;
using MirrorKv.Cli.Status;
using MirrorKv.Protocol;

namespace MirrorKv.Cli.Keys;

/// <summary>
/// The operator commands over a node's native port, through the public client API: <see cref="MirrorKvAdmin"/>
/// for STATUS, <see cref="MirrorKvClient"/> for keys. That client writes to and reads through the primary
/// (one-sided, as an application does), so a key command aimed at another node is refused with the primary's
/// endpoint rather than quietly sent there. A cluster node's map sends each key to its owning pair.
/// </summary>
internal static class NativeKeys
{
    // Redirections a key command follows: each means the map changed between two reads of it.
    private const int MaxRedirects = 3;

    public static async Task<int> GetAsync(IPEndPoint node, byte[]? secret, string key, CancellationToken cancellationToken)
    {
        byte[]? value = await OnOwnerAsync(node, secret, key, reading: true, async client => await client.GetAsync(key, cancellationToken), cancellationToken);

        // A value written with a time to live (over RESP, or by the cache package) carries its expiry in front
        // (docs/protocol.md, "Values with an expiry"): shown as redis-cli shows it, the value alone, absent once due.
        if (value is not null && Entries.ValueExpiry.TryRead(value, out long expiresAt))
        {
            value = expiresAt <= DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() ? null : value[Entries.ValueExpiry.Size..];
        }

        if (value is null)
        {
            await Console.Error.WriteLineAsync($"(not found) {key}");
            return ExitCode.NotFound;
        }

        await KeyOutput.WriteValueAsync(value);
        return ExitCode.Ok;
    }

    public static async Task<int> SetAsync(IPEndPoint node, byte[]? secret, string key, byte[] value, CancellationToken cancellationToken)
    {
        await OnOwnerAsync(node, secret, key, reading: false, async client =>
        {
            await client.SetAsync(key, value, cancellationToken);
            return true;
        }, cancellationToken);
        Console.Out.WriteLine("OK");
        return ExitCode.Ok;
    }

    public static async Task<int> DeleteAsync(IPEndPoint node, byte[]? secret, string key, CancellationToken cancellationToken)
    {
        bool deleted = await OnOwnerAsync(node, secret, key, reading: false, async client => await client.DeleteAsync(key, cancellationToken), cancellationToken);
        Console.Out.WriteLine(deleted ? "1" : "0");
        return deleted ? ExitCode.Ok : ExitCode.NotFound;
    }

    public static async Task<int> InfoAsync(IPEndPoint node, byte[]? secret, CancellationToken cancellationToken)
    {
        NodeStatus s = await MirrorKvAdmin.GetStatusAsync(node, timeout: KeyCommands.Timeout, secret: secret, cancellationToken: cancellationToken);
        var text = new StringBuilder();
        text.Append("node:").AppendLine(node.ToString());
        text.Append("role:").AppendLine(s.Role.ToString().ToLowerInvariant());
        text.Append("epoch:").AppendLine(s.Epoch.ToString(System.Globalization.CultureInfo.InvariantCulture));
        text.Append("lsn:").AppendLine(s.Lsn.ToString(System.Globalization.CultureInfo.InvariantCulture));
        text.Append("acked_lsn:").AppendLine(s.AckedLsn.ToString(System.Globalization.CultureInfo.InvariantCulture));
        text.Append("lag:").AppendLine(s.Lag.ToString(System.Globalization.CultureInfo.InvariantCulture));
        text.Append("entries:").AppendLine(s.Entries.ToString(System.Globalization.CultureInfo.InvariantCulture));
        text.Append("protected:").AppendLine(s.Protected ? "yes" : "no");
        text.Append("lease:").AppendLine(StatusText.Lease(s));
        text.Append("peer:").AppendLine(s.Peer?.ToString() ?? "-");
        await Console.Out.WriteAsync(text.ToString());
        return ExitCode.Ok;
    }

    /// <summary>
    /// Runs a key operation where the key lives. A pair's node: through its primary (a secondary is refused with
    /// the primary named). A cluster node, any role: at the pair that owns the key's slot by the node's map,
    /// through that pair's members; a Moved reply (the map changed meanwhile) is followed with the map of the
    /// node it names, at most <see cref="MaxRedirects"/> times.
    /// </summary>
    private static async Task<T> OnOwnerAsync<T>(IPEndPoint node, byte[]? secret, string key, bool reading, Func<MirrorKvClient, Task<T>> operation, CancellationToken cancellationToken)
    {
        ClusterMap? map = await MirrorKvAdmin.GetClusterMapAsync(node, timeout: KeyCommands.Timeout, secret: secret, cancellationToken: cancellationToken);
        if (map is null)
        {
            await using MirrorKvClient client = await ConnectPrimaryAsync(node, secret, reading, cancellationToken);
            return await operation(client);
        }

        for (int hops = 0; ; hops++)
        {
            ClusterPair owner = map.Owner(HashSlot.Of(key));
            await using MirrorKvClient client = await MirrorKvClient.ConnectAsync(ClientOptions([.. owner.Members.Select(m => m.EndPoint)], secret), cancellationToken);
            try
            {
                return await operation(client);
            }
            catch (MirrorKvException e) when (e.WireStatus == WireStatus.Moved && hops < MaxRedirects && Redirect.TryParse(e.Message, out Redirect? redirect))
            {
                ClusterMap? newer = await MirrorKvAdmin.GetClusterMapAsync(redirect!.EndPoint ?? node, timeout: KeyCommands.Timeout, secret: secret, cancellationToken: cancellationToken);
                if (newer is null)
                {
                    throw;
                }

                map = newer;
            }
        }
    }

    // No promotion wait: an operator wants the failure at once, with the reason, not a 5 s retry.
    private static MirrorKvClientOptions ClientOptions(IPEndPoint[] endPoints, byte[]? secret) =>
        new() { EndPoints = endPoints, Secret = secret, ConnectTimeout = KeyCommands.Timeout, RequestTimeout = KeyCommands.Timeout, PromotionWait = TimeSpan.Zero };

    private static async Task<MirrorKvClient> ConnectPrimaryAsync(IPEndPoint node, byte[]? secret, bool reading, CancellationToken cancellationToken)
    {
        NodeStatus status = await MirrorKvAdmin.GetStatusAsync(node, timeout: KeyCommands.Timeout, secret: secret, cancellationToken: cancellationToken);
        if (status.Role != NodeRole.Primary)
        {
            throw NotPrimary(node, status, reading);
        }

        return await MirrorKvClient.ConnectAsync(ClientOptions([node], secret), cancellationToken);
    }

    private static CliFailure NotPrimary(IPEndPoint node, NodeStatus status, bool reading)
    {
        string role = status.Role.ToString().ToLowerInvariant();
        if (status.Role != NodeRole.Secondary)
        {
            return new CliFailure(ExitCode.Unavailable, $"{node} is {role} (epoch {status.Epoch}): it serves no keys now; retry shortly, or find the primary with mirrorkv status");
        }

        string primary = status.Peer is { } peer
            ? $"the primary is {peer}: run the command against it"
            : "its primary is not attached now: find it with mirrorkv status";
        string what = reading
            ? "native reads go through the primary (one-sided, as clients read)"
            : "it refuses writes";
        string own = reading ? "; to read this node's own copy, give its RESP port as redis://host:port" : "";
        return new CliFailure(ExitCode.NotPrimary, $"{node} is the secondary (epoch {status.Epoch}) and {what}; {primary}{own}");
    }
}
