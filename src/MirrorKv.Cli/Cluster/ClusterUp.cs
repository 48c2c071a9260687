using System.CommandLine;
using System.Globalization;
using System.Net;
using MirrorKv.Adapter;
using MirrorKv.Cli.Chaos;
using MirrorKv.Protocol;
using static MirrorKv.Cli.PairLauncher;

namespace MirrorKv.Cli.Cluster;

/// <summary>
/// <c>mirrorkv cluster up --pairs N</c>: starts an etcd from PATH (or uses <c>--etcd</c>), writes the map of a
/// new cluster with the slots split evenly, and starts N pairs on loopback (each node also serving RESP), for
/// development; prints the endpoints and stays up until Ctrl+C, then stops every process it started. No
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
        var command = new Command("up", "Start etcd and N pairs on loopback as one cluster (slots split evenly); print the endpoints; stop everything on Ctrl+C.") { pairs, name, regionSize, etcd, nodeLogs, spare };
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
        LocalEtcd? localEtcd = null;
        var nodes = new List<ChildNode>();
        var logs = new List<TextWriter>();
        try
        {
            string urls;
            if (etcdUrls is null)
            {
                string? executable = LocalEtcd.FindOnPath();
                if (executable is null)
                {
                    await Console.Error.WriteLineAsync($"error: etcd is not on PATH: install it ({LocalEtcd.InstallHint}) or give the URLs of a running etcd with --etcd");
                    return 2;
                }

                localEtcd = await LocalEtcd.StartAsync(executable, stop);
                urls = localEtcd.Url.GetLeftPart(UriPartial.Authority);
            }
            else
            {
                urls = etcdUrls;
            }

            List<Uri> etcd = [.. urls.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(u => new Uri(u))];
            var members = new List<(string Id, NodeAddress Primary, IPEndPoint PrimaryResp, NodeAddress Secondary, IPEndPoint SecondaryResp)>();
            for (int i = 1; i <= count + spares; i++)
            {
                members.Add(($"p{i}", NodeAddress.Direct(FreeListenEndPoint()), FreeListenEndPoint(), NodeAddress.Direct(FreeListenEndPoint()), FreeListenEndPoint()));
            }

            ClusterMap map = ClusterMap.SplitEvenly(cluster, 1, [.. members.Take(count).Select(m => new ClusterPair(m.Id,
                [new ClusterMember(m.Primary.Advertised, m.PrimaryResp), new ClusterMember(m.Secondary.Advertised, m.SecondaryResp)]))]);
            using (var directory = new ClusterDirectory(etcd, cluster))
            {
                ClusterSnapshot existing = await directory.ReadAsync(stop);
                if (existing.Map is not null)
                {
                    await Console.Error.WriteLineAsync($"error: etcd at {urls} already holds a map of cluster '{cluster}' (version {existing.Map.Version}): choose another --name");
                    return 2;
                }

                if (!await directory.TryPublishAsync(map, existing, stop))
                {
                    await Console.Error.WriteLineAsync($"error: another process wrote a map of cluster '{cluster}' at the same moment");
                    return 2;
                }
            }

            output.WriteLine($"cluster {cluster}: etcd at {urls}{(localEtcd is null ? "" : " (started by this command)")}, map version 1 written; starting {count} pairs{(spares > 0 ? $" and {spares} spare" : "")}");
            string[] Args(string id, IPEndPoint resp) =>
                ["--region-size", regionSize, "--coordinator", urls, "--cluster", cluster, "--pair", id, "--resp-listen", resp.ToString()];
            TextWriter? Log(NodeAddress address)
            {
                if (nodeLogs is null)
                {
                    return null;
                }

                Directory.CreateDirectory(nodeLogs);
                var writer = TextWriter.Synchronized(new StreamWriter(Path.Combine(nodeLogs, string.Create(CultureInfo.InvariantCulture, $"node-{address.Listen.Port}.log")), append: true) { AutoFlush = true });
                logs.Add(writer);
                return writer;
            }

            // Primaries first (each claims its pair's leader key), then their secondaries; each kind in parallel.
            ChildNode[] primaries = await Task.WhenAll(members.Select(m => ChildNode.StartAsync("primary", m.Primary, Args(m.Id, m.PrimaryResp), "", output, Log(m.Primary))));
            nodes.AddRange(primaries);
            ChildNode[] secondaries = await Task.WhenAll(members.Select(m => ChildNode.StartAsync("secondary", m.Secondary, [.. Args(m.Id, m.SecondaryResp), "--primary", m.Primary.Advertised.ToString()], "", output, Log(m.Secondary))));
            nodes.AddRange(secondaries);

            foreach (SlotRange range in map.Ranges)
            {
                var m = members.Single(x => x.Id == range.PairId);
                output.WriteLine($"pair {range.PairId}: slots {range.First}-{range.Last}: primary {m.Primary.Advertised} (RESP {m.PrimaryResp}), secondary {m.Secondary.Advertised} (RESP {m.SecondaryResp})");
            }

            foreach (var m in members.Skip(count))
            {
                output.WriteLine($"spare pair {m.Id}: primary {m.Primary.Advertised} (RESP {m.PrimaryResp}), secondary {m.Secondary.Advertised} (RESP {m.SecondaryResp}), in no map yet:");
                output.WriteLine($"  mirrorkv cluster add-pair --etcd {urls} --name {cluster} --id {m.Id} --members {m.Primary.Advertised}@{m.PrimaryResp},{m.Secondary.Advertised}@{m.SecondaryResp}");
            }

            output.WriteLine($"endpoints: {string.Join(',', members.Take(count).SelectMany(m => new[] { m.Primary.Advertised, m.Secondary.Advertised }))}");
            output.WriteLine($"  (MirrorKvClusterClient's EndPoints, or: mirrorkv cluster status {members[0].Primary.Advertised})");
            output.WriteLine("ready: Ctrl+C stops the cluster");
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
        catch (Exception e) when (e is InvalidOperationException or HttpRequestException or IOException)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return 3;
        }
        finally
        {
            foreach (ChildNode node in nodes)
            {
                await node.DisposeAsync();
            }

            if (localEtcd is not null)
            {
                await localEtcd.DisposeAsync();
            }

            foreach (TextWriter log in logs)
            {
                await log.DisposeAsync();
            }
        }
    }
}
