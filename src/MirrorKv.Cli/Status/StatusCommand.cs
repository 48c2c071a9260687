using System.CommandLine;
using System.Net;
using MirrorKv.Adapter;
using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.Cli.Status;

/// <summary><c>mirrorkv status</c>: each node's role, epoch, LSN, replication lag, whether the pair is protected, and a primary's lease.</summary>
internal static class StatusCommand
{
    public static Command Create()
    {
        var nodes = new Argument<string[]>("nodes") { Description = "Node endpoints (host:port), e.g. 127.0.0.1:7400 127.0.0.1:7401.", Arity = ArgumentArity.OneOrMore };
        Option<string?> secretFile = SecretSource.ClientFileOption();
        var coordinator = new Option<string?>("--coordinator") { Description = "etcd client URLs (comma-separated): also show what etcd says (leader key, epoch) beside what each node says." };
        var pairName = new Option<string>("--pair-name") { Description = "With --coordinator: the pair's name (default default).", DefaultValueFactory = _ => "default" };
        var watch = new Option<bool>("--watch") { Description = "Refresh every --interval until Ctrl+C (exit 0 then)." };
        var interval = new Option<string>("--interval") { Description = "With --watch: time between refreshes, e.g. 1 (seconds), 500ms, 2s (default 1s).", DefaultValueFactory = _ => "1s" };
        var command = new Command("status", "Show each node's role, epoch, LSN, replication lag, whether the pair is protected and a primary's lease; with --coordinator, etcd's view too; with --watch, again and again.") { nodes, secretFile, coordinator, pairName, watch, interval };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var errors = new List<string>();
            byte[]? secret = SecretSource.Read(parse.GetValue(secretFile), SecretSource.ClientVariable, "--secret-file", errors, out _);
            if (errors.Count > 0)
            {
                await Console.Error.WriteLineAsync($"error: {errors[0]}");
                return 2;
            }

            var endPoints = new List<IPEndPoint>();
            foreach (string text in parse.GetValue(nodes)!)
            {
                if (!CliParsers.TryParseEndPoint(text, out IPEndPoint? endPoint, out string? error))
                {
                    await Console.Error.WriteLineAsync($"error: {error}");
                    return 2;
                }

                endPoints.Add(endPoint!);
            }

            if (!CliParsers.TryParseDuration(parse.GetValue(interval)!, out TimeSpan every, out string? intervalError))
            {
                await Console.Error.WriteLineAsync($"error: --interval: {intervalError}");
                return 2;
            }

            string? urls = parse.GetValue(coordinator);
            string pair = parse.GetValue(pairName)!;
            if (!parse.GetValue(watch))
            {
                return await ShowAsync(endPoints, secret, urls, pair, cancellationToken) == 0 ? 0 : 1;
            }

            // Ctrl+C cancels the token: the watch ends there, and that is its normal end.
            bool terminal = !Console.IsOutputRedirected;
            try
            {
                while (true)
                {
                    // On a terminal each refresh replaces the last, as watch(1) does; piped, they follow each other.
                    await Console.Out.WriteAsync(terminal ? "\u001b[H\u001b[2J" : "\n");
                    await Console.Out.WriteLineAsync($"every {every.TotalSeconds:0.###} s, {DateTime.Now:HH:mm:ss.fff} (Ctrl+C stops)");
                    await ShowAsync(endPoints, secret, urls, pair, cancellationToken);
                    await Console.Out.FlushAsync(cancellationToken);
                    await Task.Delay(every, cancellationToken);
                }
            }
            catch (OperationCanceledException)
            {
                return 0;
            }
        });
        return command;
    }

    // One table: a line per node, then etcd's view when asked; returns how many could not be reached.
    private static async Task<int> ShowAsync(List<IPEndPoint> endPoints, byte[]? secret, string? urls, string pairName, CancellationToken cancellationToken)
    {
        Console.Out.WriteLine($"{"node",-22} {"role",-10} {"epoch",5} {"lsn",12} {"lag",8} {"entries",10} {"protected",-9} {"lease",-10} peer");
        int unreachable = 0;
        var serving = new List<(IPEndPoint EndPoint, ulong Epoch)>();
        foreach (IPEndPoint endPoint in endPoints)
        {
            try
            {
                NodeStatus s = await MirrorKvAdmin.GetStatusAsync(endPoint, secret: secret, cancellationToken: cancellationToken);
                if (s.Role == NodeRole.Primary && s.LeaseRemaining > TimeSpan.Zero)
                {
                    serving.Add((endPoint, s.Epoch));
                }

                Console.Out.WriteLine($"{endPoint,-22} {s.Role.ToString().ToLowerInvariant(),-10} {s.Epoch,5} {s.Lsn,12:N0} {s.Lag,8:N0} {s.Entries,10:N0} {(s.Protected ? "yes" : "no"),-9} {StatusText.Lease(s),-10} {s.Peer?.ToString() ?? "-"}");
            }
            catch (MirrorKvException e)
            {
                unreachable++;
                Console.Out.WriteLine($"{endPoint,-22} unreachable: {e.Message}");
            }
        }

        if (serving.Count > 1)
        {
            // Not a state the pair reaches by itself: a node started as primary beside it (no --peer), or nodes of two
            // pairs given together. Said, because writes acknowledged at the wrong one are not in the pair.
            Console.Out.WriteLine($"warning: {serving.Count} nodes serve as primary ({string.Join(", ", serving.Select(p => $"{p.EndPoint} at epoch {p.Epoch}"))}): "
                + "if they are one pair, the one with the older epoch was started as primary without asking (it is told it was replaced within a second when "
                + "the other lost it as its peer); start a returning node with --peer or as secondary. If they are two pairs, ignore this.");
        }

        if (urls is not null)
        {
            try
            {
                var options = new CoordinatorOptions { EndPoints = [.. urls.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(u => new Uri(u))], PairName = pairName };
                PairWitness.View view = await PairWitness.DescribeAsync(options, cancellationToken);
                Console.Out.WriteLine(view.Leader is null
                    ? $"etcd (pair {options.PairName}): no leader; last epoch {view.LastEpoch}"
                    : $"etcd (pair {options.PairName}): leader {view.Leader} at epoch {view.LeaderEpoch}; last epoch {view.LastEpoch}");
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException or UriFormatException)
            {
                Console.Out.WriteLine($"etcd: unreachable or misconfigured: {e.Message}");
                unreachable++;
            }
        }

        return unreachable;
    }
}
