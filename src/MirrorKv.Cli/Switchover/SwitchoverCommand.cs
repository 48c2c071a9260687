using System.CommandLine;
using System.Diagnostics;
using System.Net;
using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.Cli.Switchover;

/// <summary>
/// <c>mirrorkv switchover</c>: the planned failover. The primary hands the pair over to its caught-up
/// secondary (no write lost, none failed), and the old primary rejoins as its secondary; the command reports
/// how long writes paused and when the pair was protected again.
/// </summary>
internal static class SwitchoverCommand
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(2);

    public static Command Create()
    {
        var primary = new Argument<string>("primary") { Description = "The primary's endpoint (host:port)." };
        Option<string?> secretFile = SecretSource.ClientFileOption();
        var timeout = new Option<int>("--timeout") { Description = "Milliseconds the primary waits for its secondary to confirm every write before it gives up and serves on (default 5000).", DefaultValueFactory = _ => 5000 };
        var command = new Command("switchover", "Planned failover: the primary stops taking writes, its secondary confirms every write and takes over, and the old primary rejoins as its secondary.") { primary, secretFile, timeout };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var errors = new List<string>();
            byte[]? secret = SecretSource.Read(parse.GetValue(secretFile), SecretSource.ClientVariable, "--secret-file", errors, out _);
            if (!CliParsers.TryParseEndPoint(parse.GetValue(primary)!, out IPEndPoint? endPoint, out string? error))
            {
                errors.Add(error!);
            }

            int wait = parse.GetValue(timeout);
            if (wait is < 1 or > 600_000)
            {
                errors.Add($"--timeout must be between 1 and 600000 ms; got {wait}.");
            }

            if (errors.Count > 0)
            {
                await Console.Error.WriteLineAsync($"error: {errors[0]}");
                return 2;
            }

            return await RunAsync(endPoint!, TimeSpan.FromMilliseconds(wait), secret, cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(IPEndPoint primary, TimeSpan timeout, byte[]? secret, CancellationToken cancellationToken)
    {
        NodeStatus before;
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                before = await MirrorKvAdmin.GetStatusAsync(primary, secret: secret, cancellationToken: cancellationToken);
                break;
            }
            catch (MirrorKvException e) when (e.Error == MirrorKvError.Unavailable && attempt < 3)
            {
                // A busy primary whose lease lapsed in the middle of a batch closes that batch's connections
                // unanswered (seen under load in CI): ask again before calling it unreachable.
                await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
            }
            catch (MirrorKvException e)
            {
                await Console.Error.WriteLineAsync($"error: {e.Message}");
                return 1;
            }
        }

        if (before.Role != NodeRole.Primary || !before.Protected || before.Peer is not { } secondary)
        {
            string why = before.Role != NodeRole.Primary
                ? $"{primary} is {before.Role.ToString().ToLowerInvariant()}, not the primary{(before.Peer is { } peer ? $" (its primary is {peer})" : "")}: run switchover against the primary"
                : $"the pair is not protected (no caught-up secondary at {primary}): there is nothing to hand over to";
            await Console.Error.WriteLineAsync($"error: {why}");
            return 1;
        }

        Console.Out.WriteLine($"switching over: primary {primary} (epoch {before.Epoch}, LSN {before.Lsn:N0}) hands over to {secondary}");
        var clock = Stopwatch.StartNew();
        (ulong epoch, ulong lsn) handedOver;
        try
        {
            handedOver = await MirrorKvAdmin.SwitchoverAsync(primary, timeout, secret: secret, cancellationToken: cancellationToken);
        }
        catch (MirrorKvException e)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return 1;
        }

        Console.Out.WriteLine($"  {clock.Elapsed.TotalMilliseconds,8:F1} ms  the secondary confirmed every write up to LSN {handedOver.lsn:N0}; handed over");
        NodeStatus? promoted = await UntilAsync(secondary, secret, s => s.Role == NodeRole.Primary && s.Epoch > handedOver.epoch, TimeSpan.FromSeconds(10), cancellationToken);
        if (promoted is null)
        {
            await Console.Error.WriteLineAsync($"error: {secondary} did not serve as primary within 10 s of the handover; see its log (`mirrorkv status {primary} {secondary}`)");
            return 1;
        }

        double paused = clock.Elapsed.TotalMilliseconds;
        Console.Out.WriteLine($"  {paused,8:F1} ms  {secondary} serves as primary at epoch {promoted.Epoch}: writes paused at most this long");
        NodeStatus? protectedAgain = await UntilAsync(secondary, secret, s => s.Role == NodeRole.Primary && s.Protected && primary.Equals(s.Peer), TimeSpan.FromSeconds(60), cancellationToken);
        if (protectedAgain is null)
        {
            await Console.Error.WriteLineAsync($"warning: {primary} has not rejoined {secondary} as its secondary within 60 s; the pair serves unprotected meanwhile");
            return 1;
        }

        Console.Out.WriteLine($"  {clock.Elapsed.TotalMilliseconds,8:F1} ms  {primary} rejoined as its secondary: the pair is protected again");
        return 0;
    }

    // Polls a node's STATUS until the condition holds (the answer), or the time runs out (null).
    private static async Task<NodeStatus?> UntilAsync(IPEndPoint node, byte[]? secret, Func<NodeStatus, bool> condition, TimeSpan limit, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < limit)
        {
            try
            {
                NodeStatus status = await MirrorKvAdmin.GetStatusAsync(node, secret: secret, cancellationToken: cancellationToken);
                if (condition(status))
                {
                    return status;
                }
            }
            catch (MirrorKvException)
            {
                // Restarting its role (the old primary rejoining): ask again.
            }

            await Task.Delay(Poll, cancellationToken);
        }

        return null;
    }
}
