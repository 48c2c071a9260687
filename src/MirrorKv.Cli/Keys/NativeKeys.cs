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
/// endpoint rather than quietly sent there.
/// </summary>
internal static class NativeKeys
{
    public static async Task<int> GetAsync(IPEndPoint node, byte[]? secret, string key, CancellationToken cancellationToken)
    {
        await using MirrorKvClient client = await ConnectPrimaryAsync(node, secret, reading: true, cancellationToken);
        byte[]? value = await client.GetAsync(key, cancellationToken);
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
        await using MirrorKvClient client = await ConnectPrimaryAsync(node, secret, reading: false, cancellationToken);
        await client.SetAsync(key, value, cancellationToken);
        Console.Out.WriteLine("OK");
        return ExitCode.Ok;
    }

    public static async Task<int> DeleteAsync(IPEndPoint node, byte[]? secret, string key, CancellationToken cancellationToken)
    {
        await using MirrorKvClient client = await ConnectPrimaryAsync(node, secret, reading: false, cancellationToken);
        bool deleted = await client.DeleteAsync(key, cancellationToken);
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

    private static async Task<MirrorKvClient> ConnectPrimaryAsync(IPEndPoint node, byte[]? secret, bool reading, CancellationToken cancellationToken)
    {
        NodeStatus status = await MirrorKvAdmin.GetStatusAsync(node, timeout: KeyCommands.Timeout, secret: secret, cancellationToken: cancellationToken);
        if (status.Role != NodeRole.Primary)
        {
            throw NotPrimary(node, status, reading);
        }

        // No promotion wait: an operator wants the failure at once, with the reason, not a 5 s retry.
        return await MirrorKvClient.ConnectAsync(
            new MirrorKvClientOptions { EndPoints = [node], Secret = secret, ConnectTimeout = KeyCommands.Timeout, RequestTimeout = KeyCommands.Timeout, PromotionWait = TimeSpan.Zero },
            cancellationToken);
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
