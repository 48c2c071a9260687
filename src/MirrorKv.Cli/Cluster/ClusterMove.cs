using System.CommandLine;
using System.Net;
using MirrorKv.Adapter;
using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.Cli.Cluster;

/// <summary>
/// <c>mirrorkv cluster move|rebalance|add-pair|remove-pair</c>: change which pair owns which slots while clients
/// read and write (docs/scale-out.md, "Moving slots"). Each writes the map in etcd (by compare-and-swap) and
/// talks to the pairs' primaries; each first finishes any move it finds half-done in the map, so running a
/// command again after it stopped (etcd unreachable, Ctrl+C) resumes it.
/// </summary>
internal static class ClusterMove
{
    public static IEnumerable<Command> Create()
    {
        yield return CreateCluster();
        yield return Move();
        yield return Rebalance();
        yield return AddPair();
        yield return RemovePair();
    }

    // The first map of a cluster whose nodes run on machines of their own (cluster up does this for loopback).
    private static Command CreateCluster()
    {
        var pairs = new Option<string[]>("--pair")
        {
            Description = "A pair of the new cluster, as ID=MEMBERS: its id (what its nodes' serve --pair names), then its nodes, comma-separated, primary first, each HOST:PORT or HOST:PORT@HOST:PORT (its RESP endpoint too). Once per pair.",
            Required = true,
        };
        var command = new Command("create", "Write a new cluster's first map to etcd: the given pairs, the 16,384 slots split evenly between them (docs/deploy.md, \"A cluster\").") { pairs };
        Common common = Common.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var list = new List<ClusterPair>();
            foreach (string text in parse.GetValue(pairs) ?? [])
            {
                int equals = text.IndexOf('=', StringComparison.Ordinal);
                string pairId = equals < 0 ? text : text[..equals];
                if (equals < 0 || !ClusterMap.IsValidName(pairId))
                {
                    return await FailAsync($"--pair '{text}' must be ID=HOST:PORT[,HOST:PORT], with an id of 1 to {ClusterMap.MaxNameLength} letters, digits, '-', '_' or '.'");
                }

                if (!TryParseMembers(text[(equals + 1)..], out List<ClusterMember> members, out string? error))
                {
                    return await FailAsync($"--pair {pairId}: {error}");
                }

                if (list.Any(p => p.Id == pairId))
                {
                    return await FailAsync($"--pair {pairId} is given twice");
                }

                if (list.SelectMany(p => p.Members).FirstOrDefault(m => members.Any(n => n.EndPoint.Equals(m.EndPoint))) is { } shared)
                {
                    return await FailAsync($"--pair {pairId}: {shared.EndPoint} is a member of another pair already");
                }

                list.Add(new ClusterPair(pairId, members));
            }

            if (list.Count is 0 or > HashSlot.Count)
            {
                return await FailAsync($"--pair must be given 1 to {HashSlot.Count} times");
            }

            return await common.RunAsync(parse, async (mover, ct) =>
            {
                ClusterMap map = ClusterMap.SplitEvenly(mover.Cluster, 1, list);
                await mover.CreateAsync(map, ct);
                Console.Out.WriteLine($"map version 1 of cluster {mover.Cluster} written: {string.Join("; ", list.Select(p => $"{p.Id} ({string.Join(", ", p.Members)}) slots {string.Join(",", map.Ranges.Where(r => r.PairId == p.Id).Select(r => r.First == r.Last ? $"{r.First}" : $"{r.First}-{r.Last}"))}"))}");
            }, cancellationToken, moves: false);
        });
        return command;
    }

    private static Command Move()
    {
        var slots = new Option<string>("--slots") { Description = "The slots to move: N or FIRST-LAST (0-16383).", Required = true };
        var to = new Option<string>("--to") { Description = "The pair that gets them (its id in the map).", Required = true };
        var command = new Command("move", "Move slots to a pair, in batches, while clients read and write.") { slots, to };
        Common common = Common.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (!TryParseSlots(parse.GetValue(slots)!, out int first, out int last))
            {
                return await FailAsync($"--slots '{parse.GetValue(slots)}' must be N or FIRST-LAST with 0 <= FIRST <= LAST <= {HashSlot.Count - 1}");
            }

            string target = parse.GetValue(to)!;
            return await common.RunAsync(parse, (mover, ct) => mover.MoveAsync(first, last, target, ct), cancellationToken);
        });
        return command;
    }

    private static Command Rebalance()
    {
        var command = new Command("rebalance", "Move slots until every pair of the map has an even share (the fewest moves).");
        Common common = Common.AddTo(command);
        command.SetAction((parse, cancellationToken) => common.RunAsync(parse, (mover, ct) => mover.RebalanceAsync(null, ct), cancellationToken));
        return command;
    }

    private static Command AddPair()
    {
        var id = new Option<string>("--id") { Description = "The new pair's id (what its nodes' serve --pair names).", Required = true };
        var members = new Option<string>("--members") { Description = "Its nodes, comma-separated, primary first: each HOST:PORT (native), or HOST:PORT@HOST:PORT to name its RESP endpoint too.", Required = true };
        var noRebalance = new Option<bool>("--no-rebalance") { Description = "Only add the pair to the map (no slots); move slots later." };
        var command = new Command("add-pair", "Add a running pair to the map (with no slots), then rebalance.") { id, members, noRebalance };
        Common common = Common.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            string pairId = parse.GetValue(id)!;
            if (!ClusterMap.IsValidName(pairId))
            {
                return await FailAsync($"--id '{pairId}' must be 1 to {ClusterMap.MaxNameLength} letters, digits, '-', '_' or '.'");
            }

            if (!TryParseMembers(parse.GetValue(members)!, out List<ClusterMember> list, out string? membersError))
            {
                return await FailAsync($"--members: {membersError}");
            }

            bool rebalance = !parse.GetValue(noRebalance);
            return await common.RunAsync(parse, async (mover, ct) =>
            {
                ClusterMap added = await mover.PublishAsync((map, version) => map.Find(pairId) is { } existing
                    ? existing.SameMembers(new ClusterPair(pairId, list)) ? map.WithVersion(version) : throw new MoveException($"pair '{pairId}' is in the map already, with other members ({string.Join(", ", existing.Members)})")
                    : map.WithPairs(version, [.. map.Pairs, new ClusterPair(pairId, list)]), ct);
                Console.Out.WriteLine($"map version {added.Version}: pair {pairId} added ({string.Join(", ", list)}), no slots");
                if (rebalance)
                {
                    await mover.RebalanceAsync(null, ct);
                }
            }, cancellationToken);
        });
        return command;
    }

    private static Command RemovePair()
    {
        var id = new Option<string>("--id") { Description = "The pair to take out: its slots move to the others first.", Required = true };
        var command = new Command("remove-pair", "Move a pair's slots to the other pairs (evening them out), then drop it from the map.") { id };
        Common common = Common.AddTo(command);
        command.SetAction((parse, cancellationToken) =>
        {
            string pairId = parse.GetValue(id)!;
            return common.RunAsync(parse, async (mover, ct) =>
            {
                await mover.FinishPendingAsync(ct);
                if ((await mover.MapAsync(ct)).IndexOf(pairId) < 0)
                {
                    throw new MoveException($"pair '{pairId}' is not in the map");
                }

                await mover.RebalanceAsync(pairId, ct);
                ClusterMap removed = await mover.PublishAsync((map, version) => map.IndexOf(pairId) < 0
                    ? throw new MoveException($"pair '{pairId}' is not in the map (version {map.Version})")
                    : map.WithPairs(version, [.. map.Pairs.Where(p => p.Id != pairId)]), ct);
                Console.Out.WriteLine($"map version {removed.Version}: pair {pairId} removed; its nodes serve no key now and may be stopped");
            }, cancellationToken);
        });
        return command;
    }

    // A pair's members as add-pair and create take them: comma-separated, primary first, HOST:PORT[@HOST:PORT].
    private static bool TryParseMembers(string text, out List<ClusterMember> members, out string? error)
    {
        members = [];
        error = null;
        foreach (string member in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            string[] parts = member.Split('@');
            IPEndPoint? resp = null;
            if (parts.Length > 2 || !CliParsers.TryParseEndPoint(parts[0], out IPEndPoint? native, out _)
                || (parts.Length == 2 && !CliParsers.TryParseEndPoint(parts[1], out resp, out _)))
            {
                error = $"'{member}' is not HOST:PORT or HOST:PORT@HOST:PORT";
                return false;
            }

            if (members.Any(m => m.EndPoint.Equals(native)))
            {
                error = $"{native} is named twice";
                return false;
            }

            members.Add(new ClusterMember(native!, resp));
        }

        if (members.Count is 0 or > byte.MaxValue)
        {
            error = "must name 1 to 255 nodes";
            return false;
        }

        return true;
    }

    private static bool TryParseSlots(string text, out int first, out int last)
    {
        string[] parts = text.Split('-');
        first = last = -1;
        return parts.Length is 1 or 2
            && int.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out first)
            && int.TryParse(parts[^1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out last)
            && first <= last && last < HashSlot.Count;
    }

    private static async Task<int> FailAsync(string message)
    {
        await Console.Error.WriteLineAsync($"error: {message}");
        return 2;
    }

    /// <summary>The options every move command takes, and how it runs: the mover, its errors, its summary.</summary>
    private sealed class Common
    {
        private readonly Option<string> _etcd = new("--etcd") { Description = "URLs of the cluster's etcd (comma-separated): the map is read and written there.", Required = true };
        private readonly Option<string> _name = new("--name") { Description = "The cluster's name (default dev).", DefaultValueFactory = _ => "dev" };
        private readonly Option<int> _batch = new("--batch-slots") { Description = "Most slots per batch (default 1024): a batch's writes stall while it moves.", DefaultValueFactory = _ => 1024 };
        private readonly Option<double> _etcdWait = new("--etcd-wait") { Description = "Seconds to keep asking an etcd that does not answer before the move stops, resumable (default 30).", DefaultValueFactory = _ => 30 };
        private readonly Option<string?> _secret = SecretSource.ClientFileOption();

        public static Common AddTo(Command command)
        {
            var common = new Common();
            command.Options.Add(common._etcd);
            command.Options.Add(common._name);
            command.Options.Add(common._batch);
            command.Options.Add(common._etcdWait);
            command.Options.Add(common._secret);
            return common;
        }

        public async Task<int> RunAsync(ParseResult parse, Func<SlotMover, CancellationToken, Task> run, CancellationToken cancellationToken, bool moves = true)
        {
            var errors = new List<string>();
            byte[]? secret = SecretSource.Read(parse.GetValue(_secret), SecretSource.ClientVariable, "--secret-file", errors, out _);
            string cluster = parse.GetValue(_name)!;
            int batch = parse.GetValue(_batch);
            var urls = new List<Uri>();
            foreach (string url in parse.GetValue(_etcd)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (Uri.TryCreate(url, UriKind.Absolute, out Uri? uri) && uri.Scheme is "http" or "https")
                {
                    urls.Add(uri);
                }
                else
                {
                    errors.Add($"--etcd: '{url}' is not an http(s) URL");
                }
            }

            if (!ClusterMap.IsValidName(cluster))
            {
                errors.Add($"--name '{cluster}' must be letters, digits, '-', '_' or '.'");
            }

            if (batch is < 1 or > HashSlot.Count)
            {
                errors.Add($"--batch-slots must be 1 to {HashSlot.Count}");
            }

            double etcdWait = parse.GetValue(_etcdWait);
            if (!(etcdWait is >= 0 and <= 3600))
            {
                errors.Add($"--etcd-wait must be 0 to 3600 seconds; got {etcdWait}");
            }

            if (errors.Count > 0 || urls.Count == 0)
            {
                return await FailAsync(errors.FirstOrDefault() ?? "--etcd names no URL");
            }

            using var directory = new ClusterDirectory(urls, cluster);
            var mover = new SlotMover(directory, secret, Console.Out) { BatchSlots = batch, EtcdPatience = TimeSpan.FromSeconds(etcdWait) };
            try
            {
                await run(mover, cancellationToken);
                if (moves)
                {
                    Console.Out.WriteLine(mover.Stats.Describe());
                }

                return 0;
            }
            catch (MoveException e)
            {
                await Console.Error.WriteLineAsync($"error: {e.Message}");
                return 3;
            }
            catch (MirrorKvException e)
            {
                // A node refused what no step expects (a connection without the right --secret-file, a CLUSTER_MAP
                // query): the steps' own refusals come as MoveException, with the pair and the slots.
                await Console.Error.WriteLineAsync($"error: {e.Message}. The move stopped; the map keeps the step it reached, fence included, and running the command again finishes it.");
                return 3;
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException)
            {
                // etcd unreachable or answering nonsense: the map keeps whatever step was written last, fence included.
                await Console.Error.WriteLineAsync($"error: etcd: {e.Message}. The move stopped (see --etcd-wait); slots in the middle of a move stay fenced until the command is run again, which finishes it.");
                return 3;
            }
            catch (ArgumentException e)
            {
                await Console.Error.WriteLineAsync($"error: {e.Message}");
                return 2;
            }
            catch (OperationCanceledException)
            {
                await Console.Error.WriteLineAsync("stopped: run the command again to finish the move the map shows under way");
                return 130;
            }
        }
    }
}
