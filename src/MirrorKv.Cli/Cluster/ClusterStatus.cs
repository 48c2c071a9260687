using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Text;
using MirrorKv.Adapter;
using MirrorKv.Cli.Redis;
using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.Cli.Cluster;

/// <summary>
/// <c>mirrorkv cluster status NODE... [--etcd URLS]</c>: the cluster map (version, slot ranges per pair), the moves in
/// progress, and each member's role, epoch, whether its pair is protected, its replication lag, its entries and,
/// through its RESP port when the map names one, its memory. The map comes from the first node that answers, so no
/// etcd access is needed; but the nodes' map carries ownership only, so the moves (which range, from which pair to
/// which, in which phase) are shown when the map is read from etcd (<c>--etcd</c>), where the movers keep them.
/// </summary>
internal static class ClusterStatus
{
    public static Command Create()
    {
        var nodes = new Argument<string[]>("nodes") { Description = "Any node(s) of the cluster (host:port); the first that answers gives the map (unless --etcd is given).", Arity = ArgumentArity.ZeroOrMore };
        var etcd = new Option<string?>("--etcd") { Description = "URLs of the cluster's etcd (comma-separated): the map is read there, with the moves in progress and their phases." };
        var name = new Option<string>("--name") { Description = "The cluster's name in etcd (default dev), with --etcd.", DefaultValueFactory = _ => "dev" };
        Option<string?> secretFile = SecretSource.ClientFileOption();
        var command = new Command("status", "Show the cluster map (version, slot ranges per pair), the moves in progress (with --etcd), and each pair's members: role, epoch, protected, lag, entries, memory.") { nodes, etcd, name, secretFile };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var errors = new List<string>();
            var urls = new List<Uri>();
            foreach (string url in (parse.GetValue(etcd) ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
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

            string cluster = parse.GetValue(name)!;
            if (!ClusterMap.IsValidName(cluster))
            {
                errors.Add($"--name '{cluster}' must be letters, digits, '-', '_' or '.'");
            }

            byte[]? secret = SecretSource.Read(parse.GetValue(secretFile), SecretSource.ClientVariable, "--secret-file", errors, out _);
            var endPoints = new List<IPEndPoint>();
            foreach (string text in parse.GetValue(nodes)!)
            {
                if (CliParsers.TryParseEndPoint(text, out IPEndPoint? endPoint, out string? error))
                {
                    endPoints.Add(endPoint!);
                }
                else
                {
                    errors.Add(error!);
                }
            }

            if (errors.Count == 0 && endPoints.Count == 0 && urls.Count == 0)
            {
                errors.Add("name a node of the cluster (host:port), or its etcd with --etcd");
            }

            if (errors.Count > 0)
            {
                await Console.Error.WriteLineAsync($"error: {errors[0]}");
                return 2;
            }

            if (urls.Count == 0)
            {
                return await ShowAsync(endPoints, secret, Console.Out, cancellationToken);
            }

            using var directory = new ClusterDirectory(urls, cluster);
            return await ShowAsync(directory, secret, Console.Out, cancellationToken);
        });
        return command;
    }

    /// <summary>Prints the status with the map in etcd (moves included); 0 when every member answered, 1 when some did not, 3 when etcd gave no map.</summary>
    public static async Task<int> ShowAsync(ClusterDirectory directory, byte[]? secret, TextWriter output, CancellationToken cancellationToken)
    {
        ClusterSnapshot snapshot;
        try
        {
            snapshot = await directory.ReadAsync(cancellationToken);
        }
        catch (InvalidOperationException e)
        {
            await Console.Error.WriteLineAsync($"error: etcd: {e.Message}");
            return 3;
        }

        if (snapshot.Map is null)
        {
            await Console.Error.WriteLineAsync($"error: etcd holds no map of cluster '{directory.Cluster}' (see --name)");
            return 3;
        }

        return await ShowAsync(snapshot.Map, movesKnown: true, secret, output, cancellationToken);
    }

    /// <summary>Prints the status with the map of the first node that answers; 0 when every member answered, 1 when some did not, 3 when no node gave a map.</summary>
    public static async Task<int> ShowAsync(IReadOnlyList<IPEndPoint> endPoints, byte[]? secret, TextWriter output, CancellationToken cancellationToken)
    {
        ClusterMap? map = null;
        var problems = new List<string>();
        foreach (IPEndPoint endPoint in endPoints)
        {
            try
            {
                map = await MirrorKvAdmin.GetClusterMapAsync(endPoint, secret: secret, cancellationToken: cancellationToken);
                if (map is null)
                {
                    await Console.Error.WriteLineAsync($"error: {endPoint} serves a single pair, not a cluster (see mirrorkv status)");
                    return 2;
                }

                break;
            }
            catch (MirrorKvException e)
            {
                problems.Add($"{endPoint}: {e.Message}");
            }
        }

        if (map is null)
        {
            await Console.Error.WriteLineAsync($"error: no node gave the cluster map: {string.Join("; ", problems)}");
            return 3;
        }

        return await ShowAsync(map, movesKnown: false, secret, output, cancellationToken);
    }

    private static async Task<int> ShowAsync(ClusterMap map, bool movesKnown, byte[]? secret, TextWriter output, CancellationToken cancellationToken)
    {
        output.WriteLine($"cluster {map.Name}: map version {map.Version}, {map.Pairs.Count} pairs, {HashSlot.Count} slots");
        SlotRange[] moves = [.. map.Ranges.Where(r => r.IsMigrating)];
        if (!movesKnown)
        {
            output.WriteLine("moves in progress: not known (a node's map carries ownership only: give --etcd URLS to read the map with the moves)");
        }
        else if (moves.Length == 0)
        {
            output.WriteLine("moves in progress: none");
        }
        else
        {
            output.WriteLine($"moves in progress: {moves.Length} ({moves.Sum(r => r.Count)} slots)");
            foreach (SlotRange move in moves)
            {
                output.WriteLine($"  slots {Slots(move)}: {move.PairId} -> {move.MigratingTo}, phase {PhaseName(move.Phase)}");
            }
        }

        int unreachable = 0;
        foreach (ClusterPair pair in map.Pairs)
        {
            string ranges = string.Join(", ", map.Ranges.Where(r => r.PairId == pair.Id).Select(r => r.IsMigrating ? $"{Slots(r)} (moving to {r.MigratingTo})" : Slots(r)));
            output.WriteLine($"pair {pair.Id}: {map.SlotsOf(pair.Id)} slots ({(ranges.Length == 0 ? "none" : ranges)})");
            foreach (ClusterMember member in pair.Members)
            {
                try
                {
                    NodeStatus status = await MirrorKvAdmin.GetStatusAsync(member.EndPoint, secret: secret, cancellationToken: cancellationToken);
                    string memory = await MemoryAsync(member, secret, cancellationToken);
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  {member.EndPoint,-21} {status.Role.ToString().ToLowerInvariant(),-10} epoch {status.Epoch,-3} {(status.Protected ? "protected" : "unprotected"),-11} lag {status.Lag,-6} entries {status.Entries,-9} memory {memory}"));
                }
                catch (MirrorKvException e)
                {
                    unreachable++;
                    output.WriteLine($"  {member.EndPoint,-21} unreachable: {e.Message}");
                }
            }
        }

        return unreachable == 0 ? 0 : 1;
    }

    private static string Slots(SlotRange range) => range.First == range.Last ? $"{range.First}" : $"{range.First}-{range.Last}";

    // The phases in the words of docs/scale-out.md, "Moving slots".
    private static string PhaseName(MigrationPhase phase) => phase == MigrationPhase.Copy
        ? "copy (the source refuses writes of these slots; their entries are being copied to the target)"
        : "handoff (the source refuses every request of these slots; its entries of them are being deleted)";

    // used / region, from the member's RESP port (INFO memory); "-" when the map names none or it does not answer.
    private static async Task<string> MemoryAsync(ClusterMember member, byte[]? secret, CancellationToken cancellationToken)
    {
        if (member.RespEndPoint is null)
        {
            return "-";
        }

        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(2));
            await using RespClient resp = await RespClient.ConnectAsync(member.RespEndPoint, timeout.Token);
            if (secret is not null)
            {
                await resp.CallAsync("AUTH", Encoding.UTF8.GetString(secret)).WaitAsync(timeout.Token);
            }

            Dictionary<string, string> info = await resp.InfoAsync("memory").WaitAsync(timeout.Token);
            return $"{Human(info.GetValueOrDefault("used_memory"))} / {Human(info.GetValueOrDefault("maxmemory"))}";
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or InvalidOperationException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return "-";
        }
    }

    private static string Human(string? bytes) =>
        long.TryParse(bytes, NumberStyles.None, CultureInfo.InvariantCulture, out long n)
            ? n >= 1 << 20 ? string.Create(CultureInfo.InvariantCulture, $"{n / 1048576.0:F1} MiB") : string.Create(CultureInfo.InvariantCulture, $"{n / 1024.0:F1} KiB")
            : "?";
}
