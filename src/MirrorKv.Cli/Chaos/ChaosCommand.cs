using System.CommandLine;

namespace MirrorKv.Cli.Chaos;

/// <summary><c>mirrorkv chaos --cycles N --seed S --faults kill,pause-primary,... [--coordinator [URLS]]</c>.</summary>
internal static class ChaosCommand
{
    public static Command Create()
    {
        var cycles = new Option<int>("--cycles") { Description = "Fault-and-heal cycles.", DefaultValueFactory = _ => 20 };
        cycles.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 1 or > 100_000)
            {
                r.AddError("--cycles must be between 1 and 100000.");
            }
        });
        var seed = new Option<int>("--seed") { Description = "Seed for which fault, which node, how long and when.", DefaultValueFactory = _ => 1 };
        var keys = new Option<int>("--keys") { Description = "Keys in the checked workload.", DefaultValueFactory = _ => 5000 };
        keys.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 2 or > 1_000_000)
            {
                r.AddError("--keys must be between 2 and 1000000.");
            }
        });
        var faults = new Option<string>("--faults")
        {
            Description = $"Comma list of the faults the cycles draw from (seeded, each kind once per round): {ChaosFaults.ValidNames}. "
                + "kill: SIGKILL either node, restarted as secondary; pause-primary, pause-secondary: SIGSTOP for 1.5-3 s, then SIGCONT; "
                + "cut-link: black-hole the peer link both ways or one way for 1.5-3 s (nodes behind relays of this process); "
                + "silent-death: SIGSTOP the secondary, SIGKILL it 1.5 s later, restart it as secondary.",
            DefaultValueFactory = _ => "kill",
        };
        faults.Validators.Add(r =>
        {
            if (!ChaosFaults.TryParse(r.GetValueOrDefault<string>() ?? "", out _, out string? error))
            {
                r.AddError(error!);
            }
        });
        var coordinator = new Option<string?>("--coordinator")
        {
            Description = "Run the pair with etcd as its witness (serve --coordinator, a pair name of its own per run). With etcd client URLs (comma-separated): that etcd; "
                + $"with no value or '{ChaosOptions.LocalCoordinator}': an etcd this run starts from PATH on free loopback ports and stops at the end ({LocalEtcd.InstallHint}). Without it: pair mode.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        coordinator.Validators.Add(r =>
        {
            string? value = r.GetValueOrDefault<string?>();
            if (value is null || value == ChaosOptions.LocalCoordinator)
            {
                return;
            }

            foreach (string part in value.Split(',', StringSplitOptions.TrimEntries))
            {
                if (!Uri.TryCreate(part, UriKind.Absolute, out Uri? url) || url.Scheme is not ("http" or "https"))
                {
                    r.AddError($"--coordinator: '{part}' is not an etcd URL such as http://127.0.0.1:2379 (or give no value, or '{ChaosOptions.LocalCoordinator}', for an etcd of this run's own)");
                    return;
                }
            }
        });
        var cluster = new Option<int?>("--cluster")
        {
            Description = "A cluster of N pairs (2 to 16) over etcd (--coordinator URLs, or an etcd this run starts) instead of one pair: each cycle moves a seeded range of slots "
                + "between two pairs and kills the primary of the source, the target or a bystander with SIGKILL while the move runs; the dead node is restarted as secondary, "
                + "a move the kill stopped is resumed; then every acknowledged write is checked. Only the kill fault.",
        };
        cluster.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is < 2 or > 16)
            {
                r.AddError("--cluster must be between 2 and 16 pairs.");
            }
        });
        var eviction = new Option<string?>("--eviction")
        {
            Description = $"Run the nodes with this eviction policy (allkeys-lru or allkeys-lfu), --max-memory {ChaosOptions.EvictionMaxMemory} and values of {ChaosOptions.EvictionValueSize:N0} B ({3 * ChaosOptions.EvictionValueSize:N0} B every other write), so that they evict throughout: a read may miss, a value older than acknowledged is still a bad read, and the histories are checked as without. Pair and coordinator modes.",
        };
        eviction.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { } given && given is not ("allkeys-lru" or "allkeys-lfu"))
            {
                r.AddError($"--eviction must be allkeys-lru or allkeys-lfu (the workload's values carry no expiry, so volatile-ttl would evict nothing); got '{given}'.");
            }
        });
        var nodeLogs = new Option<string?>("--node-logs") { Description = "Directory for every line each node prints (node-PORT.log, restarts appended, wall-clock stamps); by default only lines about failures are shown." };
        var json = new Option<bool>("--json") { Description = "Also print the figures as one JSON object on the last line." };
        var command = new Command("chaos", "Inject a fault per cycle (kill -9, pause, cut link, silent death) under a checked workload, wait until the pair is protected again, repeat; count STATUS samples with two primaries; then check every acknowledged write.")
        {
            cycles, seed, keys, faults, coordinator, cluster, eviction, nodeLogs, json,
        };
        command.Validators.Add(r =>
        {
            if (r.GetResult(cluster) is not null && r.GetResult(faults) is { Implicit: false } given && given.GetValueOrDefault<string>() != "kill")
            {
                r.AddError("--cluster injects kill -9 of a primary while slots move: --faults other than kill is not supported with it.");
            }

            if (r.GetResult(cluster) is not null && r.GetResult(eviction) is not null)
            {
                r.AddError("--eviction is not supported with --cluster: run it with one pair.");
            }

            if (r.GetResult(cluster) is not null && r.GetResult(json) is { Implicit: false })
            {
                r.AddError("--json is not supported with --cluster yet: read the summary lines.");
            }
        });
        command.SetAction(async (parse, cancellationToken) =>
        {
            ChaosFaults.TryParse(parse.GetValue(faults)!, out IReadOnlyList<ChaosFault> kinds, out _);
            string? witness = parse.GetResult(coordinator) is null ? null : parse.GetValue(coordinator) ?? ChaosOptions.LocalCoordinator;
            if (parse.GetValue(cluster) is int pairs)
            {
                var options = new ChaosOptions(parse.GetValue(cycles), parse.GetValue(seed), parse.GetValue(keys)) { ClusterPairs = pairs, NodeLogs = parse.GetValue(nodeLogs), Coordinator = witness };
                return await new ClusterChaosRunner(options, Console.Out).RunAsync(cancellationToken);
            }

            var runner = new ChaosRunner(new ChaosOptions(parse.GetValue(cycles), parse.GetValue(seed), parse.GetValue(keys)) { Faults = kinds, NodeLogs = parse.GetValue(nodeLogs), Coordinator = witness, Eviction = parse.GetValue(eviction) }, Console.Out);
            int exitCode = await runner.RunAsync(cancellationToken);
            if (parse.GetValue(json) && runner.Result is { } result)
            {
                Console.Out.WriteLine(result.ToJson());
            }

            return exitCode;
        });
        return command;
    }
}
