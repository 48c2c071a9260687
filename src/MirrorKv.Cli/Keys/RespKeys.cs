using System.Globalization;
using System.Net;
using System.Text;

namespace MirrorKv.Cli.Keys;

/// <summary>
/// The operator commands over a node's RESP port (<c>redis://host:port</c>): the route for times to live and
/// SCAN, which the native protocol has no request for, and for a secondary's own copy (RESP serves reads on
/// either role). The same secret as the native port, sent with AUTH.
/// </summary>
internal static class RespKeys
{
    // Keys per SCAN call: one call holds the store's lock for at most 10 x COUNT slots (docs/resp.md).
    private const int ScanCount = 1000;

    public static async Task<int> GetAsync(NodeAddress node, byte[]? secret, string key, CancellationToken cancellationToken)
    {
        await using RespConnection connection = await ConnectAsync(node, secret, cancellationToken);
        RespReply reply = await CheckedAsync(node, connection, await connection.SendAsync(cancellationToken, "GET", key), cancellationToken);
        if (reply.IsNull)
        {
            await Console.Error.WriteLineAsync($"(not found) {key}");
            return ExitCode.NotFound;
        }

        await KeyOutput.WriteValueAsync(reply.Bulk!);
        return ExitCode.Ok;
    }

    public static async Task<int> SetAsync(NodeAddress node, byte[]? secret, string key, byte[] value, TimeSpan? ttl, CancellationToken cancellationToken)
    {
        await using RespConnection connection = await ConnectAsync(node, secret, cancellationToken);
        byte[][] command = ttl is { } t
            ? ["SET"u8.ToArray(), Encoding.UTF8.GetBytes(key), value, "PX"u8.ToArray(), Encoding.ASCII.GetBytes(((long)Math.Ceiling(t.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture))]
            : ["SET"u8.ToArray(), Encoding.UTF8.GetBytes(key), value];
        RespReply reply = await CheckedAsync(node, connection, await connection.SendAsync(cancellationToken, command), cancellationToken);
        Console.Out.WriteLine(reply.Text);
        return ExitCode.Ok;
    }

    public static async Task<int> DeleteAsync(NodeAddress node, byte[]? secret, string key, CancellationToken cancellationToken)
    {
        await using RespConnection connection = await ConnectAsync(node, secret, cancellationToken);
        RespReply reply = await CheckedAsync(node, connection, await connection.SendAsync(cancellationToken, "DEL", key), cancellationToken);
        Console.Out.WriteLine(reply.Integer.ToString(CultureInfo.InvariantCulture));
        return reply.Integer > 0 ? ExitCode.Ok : ExitCode.NotFound;
    }

    /// <summary>Seconds left (as redis's TTL rounds them), <c>none</c> for a key that never expires.</summary>
    public static async Task<int> TtlAsync(NodeAddress node, byte[]? secret, string key, CancellationToken cancellationToken)
    {
        await using RespConnection connection = await ConnectAsync(node, secret, cancellationToken);
        RespReply reply = await CheckedAsync(node, connection, await connection.SendAsync(cancellationToken, "TTL", key), cancellationToken);
        switch (reply.Integer)
        {
            case -2:
                await Console.Error.WriteLineAsync($"(not found) {key}");
                return ExitCode.NotFound;
            case -1:
                Console.Out.WriteLine("none");
                return ExitCode.Ok;
            default:
                Console.Out.WriteLine(reply.Integer.ToString(CultureInfo.InvariantCulture));
                return ExitCode.Ok;
        }
    }

    /// <summary>Every key (matching the glob, when given), one per line, from SCAN calls until the cursor comes back to 0.</summary>
    public static async Task<int> ScanAsync(NodeAddress node, byte[]? secret, string? match, CancellationToken cancellationToken)
    {
        await using RespConnection connection = await ConnectAsync(node, secret, cancellationToken);
        await using Stream stdout = Console.OpenStandardOutput();
        string cursor = "0";
        do
        {
            string[] command = match is null
                ? ["SCAN", cursor, "COUNT", ScanCount.ToString(CultureInfo.InvariantCulture)]
                : ["SCAN", cursor, "MATCH", match, "COUNT", ScanCount.ToString(CultureInfo.InvariantCulture)];
            RespReply reply = await CheckedAsync(node, connection, await connection.SendAsync(cancellationToken, command), cancellationToken);
            if (reply.Items is not [{ Kind: '$' } next, { Kind: '*', Items: { } keys }])
            {
                throw new InvalidDataException("SCAN's reply is not [cursor, keys]");
            }

            foreach (RespReply key in keys)
            {
                await stdout.WriteAsync(key.Bulk ?? [], cancellationToken);
                stdout.WriteByte((byte)'\n');
            }

            cursor = next.Text;
        }
        while (cursor != "0");
        return ExitCode.Ok;
    }

    public static async Task<int> InfoAsync(NodeAddress node, byte[]? secret, string? section, CancellationToken cancellationToken)
    {
        await using RespConnection connection = await ConnectAsync(node, secret, cancellationToken);
        RespReply reply = await CheckedAsync(node, connection, await connection.SendAsync(cancellationToken, section is null ? ["INFO"] : ["INFO", section]), cancellationToken);
        await Console.Out.WriteAsync(reply.Text.Replace("\r\n", "\n", StringComparison.Ordinal));
        return ExitCode.Ok;
    }

    private static async Task<RespConnection> ConnectAsync(NodeAddress node, byte[]? secret, CancellationToken cancellationToken)
    {
        RespConnection connection = await RespConnection.ConnectAsync(node.EndPoint, KeyCommands.Timeout, cancellationToken);
        if (secret is not null)
        {
            RespReply auth = await connection.SendAsync(cancellationToken, "AUTH"u8.ToArray(), secret);
            if (auth.IsError)
            {
                await connection.DisposeAsync();
                throw new CliFailure(ExitCode.AuthenticationFailed, $"{node} refused the secret: {auth.Text}");
            }
        }

        return connection;
    }

    // An error reply becomes the exit code a script can act on, with what to do next.
    private static async Task<RespReply> CheckedAsync(NodeAddress node, RespConnection connection, RespReply reply, CancellationToken cancellationToken)
    {
        if (!reply.IsError)
        {
            return reply;
        }

        switch (reply.ErrorCode)
        {
            case "READONLY":
                throw new CliFailure(ExitCode.NotPrimary, $"{node} is the secondary and refuses writes; {await PrimaryHintAsync(connection, cancellationToken)}");
            case "NOAUTH":
                throw new CliFailure(ExitCode.AuthenticationFailed, $"{node} requires the secret: give --secret-file or {SecretSource.ClientVariable}");
            case "WRONGPASS":
                throw new CliFailure(ExitCode.AuthenticationFailed, $"{node} refused the secret: {reply.Text}");
            case "LOADING":
                throw new CliFailure(ExitCode.Unavailable, $"{node} cannot serve now: {reply.Text}");
            default:
                throw new CliFailure(ExitCode.Refused, $"{node} answered: {reply.Text}");
        }
    }

    // ROLE on a secondary names its primary's RESP port (the nodes tell each other in their handshake).
    private static async Task<string> PrimaryHintAsync(RespConnection connection, CancellationToken cancellationToken)
    {
        try
        {
            RespReply role = await connection.SendAsync(cancellationToken, "ROLE");
            if (role.Items is [{ Text: "slave" }, { Kind: '$' } host, { Kind: ':' } port, ..] && IPAddress.TryParse(host.Text, out IPAddress? address))
            {
                return $"the primary is redis://{new IPEndPoint(address, (int)port.Integer)}: run the command against it";
            }
        }
        catch (Exception e) when (e is IOException or TimeoutException or InvalidDataException)
        {
            // The hint is a courtesy: the refusal stands without it.
        }

        return "run the command against the primary (mirrorkv status shows which node it is)";
    }
}
