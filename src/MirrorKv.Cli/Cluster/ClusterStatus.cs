using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Text;
using MirrorKv.Cli.Redis;
using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.Cli.Cluster;

/// <summary>
/// <c>mirrorkv cluster status NODE...</c>: the cluster map as any node serves it (version, slot ranges per pair)
/// and each member's role, epoch, whether its pair is protected, its entries and, through its RESP port when
/// the map names one, its memory. Needs no etcd access.
/// </summary>
internal static class ClusterStatus
{
    public static Command Create()
    {
        var nodes = new Argument<string[]>("nodes") { Description = "Any node(s) of the cluster (host:port); the first that answers gives the map.", Arity = ArgumentArity.OneOrMore };
        Option<string?> secretFile = SecretSource.ClientFileOption();
        var command = new Command("status", "Show the cluster map (version, slot ranges per pair) and each pair's members: role, epoch, protected, entries, memory.") { nodes, secretFile };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var errors = new List<string>();
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

            if (errors.Count > 0)
            {
                await Console.Error.WriteLineAsync($"error: {errors[0]}");
                return 2;
            }

            return await ShowAsync(endPoints, secret, Console.Out, cancellationToken);
        });
        return command;
    }

    /// <summary>Prints the status; 0 when every member answered, 1 when some did not, 3 when no node gave a map.</summary>
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

        output.WriteLine($"cluster {map.Name}: map version {map.Version}, {map.Pairs.Count} pairs, {HashSlot.Count} slots");
        int unreachable = 0;
        foreach (ClusterPair pair in map.Pairs)
        {
            string ranges = string.Join(", ", map.Ranges.Where(r => r.PairId == pair.Id).Select(r => r.First == r.Last ? $"{r.First}" : $"{r.First}-{r.Last}"));
            output.WriteLine($"pair {pair.Id}: {map.SlotsOf(pair.Id)} slots ({(ranges.Length == 0 ? "none" : ranges)})");
            foreach (ClusterMember member in pair.Members)
            {
                try
                {
                    NodeStatus status = await MirrorKvAdmin.GetStatusAsync(member.EndPoint, secret: secret, cancellationToken: cancellationToken);
                    string memory = await MemoryAsync(member, secret, cancellationToken);
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  {member.EndPoint,-21} {status.Role.ToString().ToLowerInvariant(),-10} epoch {status.Epoch,-3} {(status.Protected ? "protected" : "unprotected"),-11} entries {status.Entries,-9} memory {memory}"));
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
