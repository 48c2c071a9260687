using System.CommandLine;
using System.Net.Sockets;
using System.Text;
using MirrorKv.Client;

namespace MirrorKv.Cli.Keys;

/// <summary>
/// <c>mirrorkv get|set|del|ttl|scan|info</c>: an operator's look at one node, as redis-cli gives one. Each takes
/// the node as <c>host:port</c> (its native port) or <c>redis://host:port</c> (its RESP port); see
/// <see cref="NodeAddress"/> for which command needs which.
/// </summary>
internal static class KeyCommands
{
    /// <summary>For the connection and each request: far above a loaded LAN's round trip, short for a person waiting.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    public static IEnumerable<Command> Create() => [Get(), Set(), Delete(), Ttl(), Scan(), Info()];

    private static Argument<string> NodeArgument() =>
        new("node") { Description = "The node: host:port (its native port) or redis://host:port (its RESP port, serve --resp-listen)." };

    private static Argument<string> KeyArgument() => new("key") { Description = "The key (UTF-8)." };

    private static Command Get()
    {
        Argument<string> node = NodeArgument();
        Argument<string> key = KeyArgument();
        var command = new Command("get", "Print a key's value (exit 1 when absent). Native port: read one-sided through the primary; RESP port: the node's own copy, on either role.") { node, key };
        return WithAction(command, node, (address, secret, parse, ct) => address.IsResp
            ? RespKeys.GetAsync(address, secret, parse.GetValue(key)!, ct)
            : NativeKeys.GetAsync(address.EndPoint, secret, parse.GetValue(key)!, ct));
    }

    private static Command Set()
    {
        Argument<string> node = NodeArgument();
        Argument<string> key = KeyArgument();
        var value = new Argument<string>("value") { Description = "The value (stored as its UTF-8 bytes)." };
        var ttl = new Option<string?>("--ttl") { Description = "Time to live: 30 (seconds), 1500ms, 30s, 10m, 2h or 1d. Needs the RESP port: the native protocol has no expiry." };
        var command = new Command("set", "Write a key on the primary, replicated before the reply (sync mode); a secondary refuses (exit 5) and names the primary.") { node, key, value, ttl };
        return WithAction(command, node, (address, secret, parse, ct) =>
        {
            TimeSpan? timeToLive = null;
            if (parse.GetValue(ttl) is { } text)
            {
                timeToLive = CliParsers.TryParseDuration(text, out TimeSpan t, out string? error) ? t : throw new CliFailure(ExitCode.Usage, $"--ttl: {error}");
                if (!address.IsResp)
                {
                    throw NeedsResp("set --ttl", "a time to live", address);
                }
            }

            byte[] bytes = Encoding.UTF8.GetBytes(parse.GetValue(value)!);
            return address.IsResp
                ? RespKeys.SetAsync(address, secret, parse.GetValue(key)!, bytes, timeToLive, ct)
                : NativeKeys.SetAsync(address.EndPoint, secret, parse.GetValue(key)!, bytes, ct);
        });
    }

    private static Command Delete()
    {
        Argument<string> node = NodeArgument();
        Argument<string> key = KeyArgument();
        var command = new Command("del", "Delete a key on the primary; prints 1, or 0 and exits 1 when it was absent.") { node, key };
        return WithAction(command, node, (address, secret, parse, ct) => address.IsResp
            ? RespKeys.DeleteAsync(address, secret, parse.GetValue(key)!, ct)
            : NativeKeys.DeleteAsync(address.EndPoint, secret, parse.GetValue(key)!, ct));
    }

    private static Command Ttl()
    {
        Argument<string> node = NodeArgument();
        Argument<string> key = KeyArgument();
        var command = new Command("ttl", "Print a key's time to live in seconds, or none; exit 1 when absent. Needs the RESP port (redis://host:port).") { node, key };
        return WithAction(command, node, (address, secret, parse, ct) => address.IsResp
            ? RespKeys.TtlAsync(address, secret, parse.GetValue(key)!, ct)
            : throw NeedsResp("ttl", "a time to live", address));
    }

    private static Command Scan()
    {
        Argument<string> node = NodeArgument();
        var match = new Option<string?>("--match") { Description = "Only keys matching this glob (redis's: *, ?, [abc], \\ escapes), e.g. 'session:*'." };
        var command = new Command("scan", "Print every key, one per line, without blocking the node (SCAN in steps). Needs the RESP port (redis://host:port).") { node, match };
        return WithAction(command, node, (address, secret, parse, ct) => address.IsResp
            ? RespKeys.ScanAsync(address, secret, parse.GetValue(match), ct)
            : throw NeedsResp("scan", "SCAN", address));
    }

    private static Command Info()
    {
        Argument<string> node = NodeArgument();
        var section = new Option<string?>("--section") { Description = "With redis://: one INFO section (server, clients, memory, stats, replication, keyspace)." };
        var command = new Command("info", "Describe one node. Native port: its STATUS (role, epoch, LSNs, lag, entries, protected, lease, peer); RESP port: INFO in redis's format.") { node, section };
        return WithAction(command, node, (address, secret, parse, ct) => address.IsResp
            ? RespKeys.InfoAsync(address, secret, parse.GetValue(section), ct)
            : parse.GetValue(section) is not null
                ? throw new CliFailure(ExitCode.Usage, "--section is for INFO on the RESP port (redis://host:port); the native port answers STATUS only")
                : NativeKeys.InfoAsync(address.EndPoint, secret, ct));
    }

    private static CliFailure NeedsResp(string command, string what, NodeAddress address) =>
        new(ExitCode.Usage, $"{command} needs the node's RESP port: the native protocol (docs/protocol.md) has no request for {what}. Give the node as {NodeAddress.RespScheme}host:port (the endpoint of its serve --resp-listen), not {address}");

    private static Command WithAction(Command command, Argument<string> node, Func<NodeAddress, byte[]?, ParseResult, CancellationToken, Task<int>> action)
    {
        Option<string?> secretFile = SecretSource.ClientFileOption();
        command.Add(secretFile);
        command.SetAction(async (parse, cancellationToken) =>
        {
            string text = parse.GetValue(node)!;
            try
            {
                if (!NodeAddress.TryParse(text, out NodeAddress address, out string? error))
                {
                    throw new CliFailure(ExitCode.Usage, error!);
                }

                var errors = new List<string>();
                byte[]? secret = SecretSource.Read(parse.GetValue(secretFile), SecretSource.ClientVariable, "--secret-file", errors, out _);
                return errors.Count > 0 ? throw new CliFailure(ExitCode.Usage, errors[0]) : await action(address, secret, parse, cancellationToken);
            }
            catch (Exception e) when (Failure(e, text) is { } failure)
            {
                await Console.Error.WriteLineAsync($"error: {failure.Message}");
                return failure.ExitCode;
            }
        });
        return command;
    }

    // Every way a command can fail, as one line and an exit code; anything else is a bug and keeps its trace.
    private static CliFailure? Failure(Exception e, string node) => e switch
    {
        CliFailure failure => failure,
        MirrorKvException { Error: MirrorKvError.AuthenticationFailed } m => new(ExitCode.AuthenticationFailed, m.Message),
        MirrorKvException { Error: MirrorKvError.Unavailable or MirrorKvError.ReadFailed } m => new(ExitCode.Unavailable, m.Message),
        MirrorKvException { Error: MirrorKvError.StaleEpoch } m => new(ExitCode.NotPrimary, $"{m.Message} (the pair failed over meanwhile: mirrorkv status shows the primary)"),
        MirrorKvException m => new(ExitCode.Refused, m.Message),
        SocketException s => new(ExitCode.Unavailable, $"cannot reach {node}: {s.Message}"),
        TimeoutException or OperationCanceledException => new(ExitCode.Unavailable, $"{node} did not answer within {Timeout.TotalSeconds:0} s"),
        IOException io => new(ExitCode.Unavailable, $"{node}: {io.Message}{(node.StartsWith(NodeAddress.RespScheme, StringComparison.OrdinalIgnoreCase) ? " (is this the node's RESP port? its native port is written host:port)" : "")}"),
        InvalidDataException bad => new(ExitCode.Refused, $"{node} did not answer in RESP ({bad.Message}); is it the node's RESP port?"),
        _ => null,
    };
}
