using System.CommandLine;
using MirrorKv.Cli.Chaos;
using MirrorKv.Protocol;

namespace MirrorKv.Cli.Cluster;

/// <summary>
/// <c>mirrorkv cluster up --pairs N</c>: starts an etcd from PATH (or uses <c>--etcd</c>), writes the map of a
/// new cluster with the slots split evenly, and starts N pairs on loopback (each node also serving RESP), for
/// development; prints the endpoints and stays up until Ctrl+C or SIGTERM, then stops every process it started. No
/// secret: the nodes listen on loopback only.
/// </summary>
internal static class ClusterUp
{
    public static Command Create()
    {
        var pairs = new Option<int>("--pairs") { Description = "Pairs to start (default 3).", DefaultValueFactory = _ => 3 };
        var name = new Option<string>("--name") { Description = "The cluster's name (default dev): its keys in etcd live under /mirrorkv/clusters/<name>/.", DefaultValueFactory = _ => "dev" };
        var regionSize = new Option<string>("--region-size") { Description = "Registered memory per node (default 64m).", DefaultValueFactory = _ => "64m" };
        var etcd = new Option<string?>("--etcd") { Description = $"URLs of a running etcd (comma-separated) instead of starting one from PATH ({LocalEtcd.InstallHint} where it is missing)." };
        var nodeLogs = new Option<string?>("--node-logs") { Description = "Write every node's output to a file per node in this directory." };
        var spare = new Option<int>("--spare") { Description = "Pairs to start besides, not in the map (no slots): for mirrorkv cluster add-pair (default 0).", DefaultValueFactory = _ => 0 };
        var command = new Command("up", "Start etcd and N pairs on loopback as one cluster (slots split evenly); print the endpoints; stop everything on Ctrl+C or SIGTERM.") { pairs, name, regionSize, etcd, nodeLogs, spare };
        command.SetAction(async (parse, cancellationToken) =>
        {
            int count = parse.GetValue(pairs);
            string cluster = parse.GetValue(name)!;
            int spares = parse.GetValue(spare);
            if (count is < 1 or > 64 || spares is < 0 or > 64 || !ClusterMap.IsValidName(cluster) || !CliParsers.TryParseSize(parse.GetValue(regionSize)!, out _, out _))
            {
                await Console.Error.WriteLineAsync("error: --pairs must be 1 to 64, --spare 0 to 64, --name letters, digits, '-', '_' or '.', --region-size a size such as 64m");
                return 2;
            }

            return await RunAsync(count, spares, cluster, parse.GetValue(regionSize)!, parse.GetValue(etcd), parse.GetValue(nodeLogs), Console.Out, cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(int count, int spares, string cluster, string regionSize, string? etcdUrls, string? nodeLogs, TextWriter output, CancellationToken stop)
    {
        LocalCluster? local = null;
        try
        {
            local = await LocalCluster.StartAsync(count, spares, cluster, regionSize, etcdUrls, nodeLogs, output, stop);
            foreach (SlotRange range in local.Map.Ranges)
            {
                LocalPair p = local.Pairs.Single(x => x.Id == range.PairId);
                output.WriteLine($"pair {range.PairId}: slots {range.First}-{range.Last}: primary {p.Primary.EndPoint} (RESP {p.Primary.Resp}), secondary {p.Secondary.EndPoint} (RESP {p.Secondary.Resp})");
            }

            foreach (LocalPair p in local.Pairs.Where(p => p.Spare))
            {
                output.WriteLine($"spare pair {p.Id}: primary {p.Primary.EndPoint} (RESP {p.Primary.Resp}), secondary {p.Secondary.EndPoint} (RESP {p.Secondary.Resp}), in no map yet:");
                output.WriteLine($"  mirrorkv cluster add-pair --etcd {local.EtcdUrls} --name {cluster} --id {p.Id} --members {p.Members}");
            }

            output.WriteLine($"endpoints: {string.Join(',', local.Mapped.SelectMany(p => new[] { p.Primary.EndPoint, p.Secondary.EndPoint }))}");
            output.WriteLine($"  (MirrorKvClusterClient's EndPoints, or: mirrorkv cluster status {local.Pairs[0].Primary.EndPoint} --etcd {local.EtcdUrls} --name {cluster})");
            output.WriteLine("ready: Ctrl+C (or SIGTERM) stops the cluster");
            output.Flush();
            try
            {
                await Task.Delay(Timeout.Infinite, stop);
            }
            catch (OperationCanceledException)
            {
            }

            output.WriteLine("stopping");
            return 0;
        }
        catch (LocalClusterException e)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return 2;
        }
        catch (Exception e) when (e is InvalidOperationException or HttpRequestException or IOException)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return 3;
        }
        finally
        {
            if (local is not null)
            {
                await local.DisposeAsync();
            }
        }
    }
}
