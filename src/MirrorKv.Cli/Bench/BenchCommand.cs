using System.CommandLine;
using System.Net;
using MirrorKv.Cli.Redis;
using MirrorKv.Client;

namespace MirrorKv.Cli.Bench;

/// <summary><c>mirrorkv bench</c>: a get or set workload against a pair it starts or is pointed at.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var primary = new Option<string?>("--primary") { Description = "Primary of a running pair (host:port); by default the bench starts a pair of its own." };
        var op = new Option<string>("--op") { Description = "get (one-sided reads) or set (replicated writes); the same as --workload get|set.", DefaultValueFactory = _ => "get" };
        op.AcceptOnlyFromAmong("get", "set");
        var workload = new Option<string?>("--workload") { Description = "get, set (YCSB load: write-only), or a YCSB core mix: a (50 % reads, 50 % updates), b (95/5), c (reads only). Overrides --op." };
        workload.AcceptOnlyFromAmong(BenchWorkload.Names);
        var distribution = new Option<string?>("--distribution") { Description = "How keys are chosen: uniform, or zipfian (constant 0.99, YCSB's default). Default: zipfian for a, b, c; uniform for get and set." };
        distribution.AcceptOnlyFromAmong(KeyChooser.Distributions);
        var completions = new Option<string>("--completions")
        {
            Description = "Where the bench's awaits resume: receive-thread (the default: on the client's receive thread, as the RESP harness resumes on the socket's, so that the two sides differ only in the server; the harness never blocks) or thread-pool (the client library's default, MirrorKvClientOptions.CompleteOnReceiveThread = false).",
            DefaultValueFactory = _ => "receive-thread",
        };
        completions.AcceptOnlyFromAmong("receive-thread", "thread-pool");
        var json = new Option<bool>("--json") { Description = "Also print the results as one JSON object on the last line." };
        var freeze = new Option<int>("--freeze") { Description = "Instead of throughput: SIGSTOP the primary for 2 s, N times, under a checked read/write load (hedged reads go on at the secondary) and report the read and write stall distributions, beside control windows without a fault (idle, and a node process started beside the pair). Needs the pair the bench starts (no --primary)." };
        freeze.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 0 or > 10_000)
            {
                r.AddError("--freeze must be between 0 (off) and 10000.");
            }
        });
        var failover = new Option<int>("--failover") { Description = "Instead of throughput: kill -9 the primary N times under a checked read/write load (the killed node rejoins each time) and report the read and write stall distributions, beside control windows without a fault (idle, and a node process started beside the pair: the machine's floor). Needs the pair the bench starts (no --primary)." };
        failover.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 0 or > 10_000)
            {
                r.AddError("--failover must be between 0 (off) and 10000.");
            }
        });
        var rejoin = new Option<bool>("--rejoin") { Description = "Instead of throughput: load a primary alone with --data, keep --connections writers going at --write-rate, start a secondary and report its slab copy rate and the time until the pair is protected. Needs the pair the bench starts (no --primary)." };
        var data = new Option<string>("--data") { Description = "With --rejoin: claimed slab bytes to load the primary with, e.g. 256m or 1g. With --memory: bytes of values to load.", DefaultValueFactory = _ => "1g" };
        var memory = new Option<bool>("--memory") { Description = "Instead of throughput: the resident memory (VmRSS) of a node alone, idle and loaded with --data of --value-size values, and of this binary without a node (the .NET runtime's floor); with --compare redis, redis-server alone with the same keys and values. Needs the node the bench starts (no --primary)." };
        var floorChild = new Option<bool>(MemoryBench.FloorFlag) { Hidden = true };
        var regionSize = new Option<string?>("--max-memory", "--region-size") { Description = "With --rejoin and --memory: each node's --max-memory (default: twice --data, at least 256m). With --eviction: the pair's memory limit (default: room for a quarter of --keys). --region-size is its deprecated name." };
        var eviction = new Option<string?>("--eviction") { Description = "Instead of throughput: start a pair with this eviction policy (allkeys-lru, allkeys-lfu, volatile-ttl) and a region smaller than the key space, and report SET throughput under eviction and the hit ratio of a read-through cache under zipfian keys; with --compare redis, redis with the same policy and as many keys held." };
        eviction.AcceptOnlyFromAmong("allkeys-lru", "allkeys-lfu", "volatile-ttl");
        var writeRate = new Option<int>("--write-rate") { Description = "With --rejoin: writes per second, all writers together, while the secondary joins; 0 for as fast as they go.", DefaultValueFactory = _ => 20_000 };
        writeRate.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 0 or > 10_000_000)
            {
                r.AddError("--write-rate must be between 0 (unpaced) and 10000000.");
            }
        });
        var keys = Positive("--keys", "Distinct keys.", 100_000, 10_000_000);
        var valueSize = Positive("--value-size", "Bytes per value, up to the nodes' --max-value-size (16 MiB, 16777216, by default).", 100, MirrorKv.Store.StoreOptions.MaxValueLengthLimit);
        var connections = Positive("--connections", "Client connections.", 4, 256);
        var pipeline = Positive("--pipeline", "Requests in flight per connection.", 1, 1024);
        var duration = Positive("--duration", "Seconds to measure.", 5, 3600);
        var warmup = Positive("--warmup", "Seconds to run before measuring.", 1, 600);
        var replication = new Option<string>("--replication") { Description = "sync or async, for a pair the bench starts.", DefaultValueFactory = _ => "sync" };
        replication.AcceptOnlyFromAmong("sync", "async");
        var rounds = Positive("--rounds", "Measure this many times and report the median round; with --compare, MirrorKv and redis take turns, so that both sides see the same machine (a shared host drifts by 10-15 % within a minute).", 1, 50);
        var compare = new Option<string?>("--compare") { Description = "redis: also drive redis-server (with a replica attached) with the same harness, and run redis-benchmark as a reference." };
        compare.AcceptOnlyFromAmong("redis");
        var clusterNode = new Option<string?>("--cluster") { Description = "Any node (host:port) of a running cluster (mirrorkv cluster up): measure it through MirrorKvClusterClient in turns with a pair the bench starts, and print the cost per operation of the cluster relative to the pair." };

        Option<string?> secretFile = SecretSource.ClientFileOption();
        var command = new Command("bench", "Measure throughput and latency (HdrHistogram percentiles) of get, set or a YCSB mix against a pair, optionally side by side with redis.")
        {
            primary, op, workload, distribution, keys, valueSize, connections, pipeline, duration, warmup, replication, rounds, compare, secretFile, json, failover, freeze, completions,
            rejoin, data, regionSize, writeRate, eviction, clusterNode, memory, floorChild,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            IPEndPoint? endPoint = null;
            string? primaryText = parse.GetValue(primary);
            if (primaryText is not null && !CliParsers.TryParseEndPoint(primaryText, out endPoint, out string? error))
            {
                await Console.Error.WriteLineAsync($"error: --primary: {error}");
                return 2;
            }

            if (parse.GetValue(freeze) is > 0 and int freezes)
            {
                if (parse.GetValue(primary) is not null)
                {
                    await Console.Error.WriteLineAsync("error: --freeze pauses the primary, so it needs the pair the bench starts: leave out --primary");
                    return 2;
                }

                return await FreezeAsync(freezes, Math.Min(parse.GetValue(keys), 50_000), parse.GetValue(json), cancellationToken);
            }

            if (parse.GetValue(failover) is > 0 and int kills)
            {
                if (endPoint is not null)
                {
                    await Console.Error.WriteLineAsync("error: --failover kills the primary, so it needs the pair the bench starts: leave out --primary");
                    return 2;
                }

                return await FailoverAsync(kills, Math.Min(parse.GetValue(keys), 50_000), parse.GetValue(json), cancellationToken);
            }

            if (parse.GetValue(floorChild))
            {
                return await MemoryBench.RunFloorChildAsync();
            }

            if (parse.GetValue(memory))
            {
                if (endPoint is not null)
                {
                    await Console.Error.WriteLineAsync("error: --memory reads the resident memory of the node it starts: leave out --primary");
                    return 2;
                }

                if (!CliParsers.TryParseSize(parse.GetValue(data)!, out ulong valueBytes, out string? memoryError) || valueBytes < 1 << 20)
                {
                    await Console.Error.WriteLineAsync($"error: --data: {memoryError ?? "at least 1m"}");
                    return 2;
                }

                string limit = parse.GetValue(regionSize) ?? $"{Math.Max(256, (valueBytes >> 20) * 2)}m";
                var memoryOptions = new MemoryBenchOptions(valueBytes, parse.GetValue(valueSize), limit, TimeSpan.FromSeconds(5));
                try
                {
                    return await new MemoryBench(memoryOptions, Console.Out).RunAsync(parse.GetValue(compare) is not null, parse.GetValue(json), cancellationToken);
                }
                catch (MirrorKvException e) when (e.Error == MirrorKvError.OutOfMemory)
                {
                    await Console.Error.WriteLineAsync($"error: the store is full (OutOfMemory): --data {parse.GetValue(data)} does not fit --max-memory {limit}; give a larger --max-memory (twice --data is the default) or less --data");
                    return 1;
                }
            }

            if (parse.GetValue(rejoin))
            {
                if (endPoint is not null)
                {
                    await Console.Error.WriteLineAsync("error: --rejoin starts the nodes it measures: leave out --primary");
                    return 2;
                }

                if (!CliParsers.TryParseSize(parse.GetValue(data)!, out ulong dataBytes, out string? sizeError) || dataBytes < 1 << 20)
                {
                    await Console.Error.WriteLineAsync($"error: --data: {sizeError ?? "at least 1m"}");
                    return 2;
                }

                string region = parse.GetValue(regionSize) ?? $"{Math.Max(256, (dataBytes >> 20) * 2)}m";
                var rejoinOptions = new RejoinBenchOptions(dataBytes, parse.GetValue(valueSize), region, parse.GetValue(writeRate), parse.GetValue(connections));
                try
                {
                    return await new RejoinBench(rejoinOptions, Console.Out).RunAsync(parse.GetValue(json), cancellationToken);
                }
                catch (MirrorKvException e) when (e.Error == MirrorKvError.OutOfMemory)
                {
                    await Console.Error.WriteLineAsync($"error: the store is full (OutOfMemory): --data {parse.GetValue(data)} does not fit --max-memory {region}; give a larger --max-memory (twice --data is the default) or less --data");
                    return 1;
                }
            }

            var errors = new List<string>();
            byte[]? secret = SecretSource.Read(parse.GetValue(secretFile), SecretSource.ClientVariable, "--secret-file", errors, out _);
            if (errors.Count > 0)
            {
                await Console.Error.WriteLineAsync($"error: {errors[0]}");
                return 2;
            }

            if (parse.GetValue(eviction) is { } policy)
            {
                if (endPoint is not null)
                {
                    await Console.Error.WriteLineAsync("error: --eviction starts the pair it measures, with that policy: leave out --primary");
                    return 2;
                }

                var evictionBench = new BenchOptions(null, BenchWorkload.Parse("get"), "zipfian", parse.GetValue(keys), parse.GetValue(valueSize), parse.GetValue(connections),
                    parse.GetValue(pipeline), TimeSpan.FromSeconds(parse.GetValue(duration)), TimeSpan.FromSeconds(parse.GetValue(warmup)), parse.GetValue(replication)!);
                string limit = parse.GetValue(regionSize) ?? QuarterRegionFor(evictionBench);
                return await new EvictionBench(new EvictionBenchOptions(policy, limit, evictionBench), Console.Out).RunAsync(parse.GetValue(compare) is not null, parse.GetValue(rounds), parse.GetValue(json), cancellationToken);
            }

            BenchWorkload mix = BenchWorkload.Parse(parse.GetValue(workload) ?? parse.GetValue(op)!);
            string keyDistribution = parse.GetValue(distribution) ?? (mix.IsSingleOperation ? "uniform" : "zipfian");
            var options = new BenchOptions(endPoint, mix, keyDistribution, parse.GetValue(keys), parse.GetValue(valueSize), parse.GetValue(connections),
                parse.GetValue(pipeline), TimeSpan.FromSeconds(parse.GetValue(duration)), TimeSpan.FromSeconds(parse.GetValue(warmup)), parse.GetValue(replication)!);
            IPEndPoint? clusterAt = null;
            if (parse.GetValue(clusterNode) is { } clusterText)
            {
                if (!CliParsers.TryParseEndPoint(clusterText, out clusterAt, out string? clusterError) || endPoint is not null || parse.GetValue(compare) is not null)
                {
                    await Console.Error.WriteLineAsync($"error: --cluster: {clusterError ?? "it compares the cluster with a pair the bench starts: leave out --primary and --compare"}");
                    return 2;
                }
            }

            await using PairLauncher? pair = endPoint is null ? await PairLauncher.StartAsync(RegionSizeFor(options), options.Replication, Console.Error) : null;
            Console.Out.WriteLine((pair is null ? $"bench against {endPoint}" : $"bench against a {options.Replication} pair started here: primary {pair.Primary.EndPoint}, secondary {pair.Secondary.EndPoint}")
                + (parse.GetValue(completions) == "receive-thread" ? "; client completions on the receive thread" : "; client completions on the thread pool"));
            string[] keyNames = Enumerable.Range(0, options.Keys).Select(i => "key:" + i.ToString("D12", System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            byte[] value = new byte[options.ValueSize];
            new Random(1).NextBytes(value);
            var runner = new BenchRunner(options, Console.Out);
            var clientOptions = new MirrorKvClientOptions { EndPoints = [endPoint ?? pair!.Primary.EndPoint], RequestTimeout = TimeSpan.FromSeconds(10), Secret = pair?.Secret ?? secret, CompleteOnReceiveThread = parse.GetValue(completions) == "receive-thread" };
            if (clusterAt is not null)
            {
                try
                {
                    return await ClusterBench.RunAsync(options, runner, clientOptions, clientOptions with { EndPoints = [clusterAt], Secret = secret }, keyNames, value, parse.GetValue(rounds), cancellationToken);
                }
                catch (MirrorKvException e)
                {
                    await Console.Error.WriteLineAsync($"error: {e.Message}");
                    return 1;
                }
            }

            await using RedisPair? redis = parse.GetValue(compare) is null ? null : await BenchTurns.StartRedisAsync();
            BenchReport report;
            try
            {
                report = await BenchTurns.MeasureAsync(options, runner, clientOptions, redis, keyNames, value, parse.GetValue(rounds), cancellationToken);
            }
            catch (MirrorKvException e)
            {
                // A full store, a wrong secret, a pair that went away: the operator's problem to fix, not a crash.
                await Console.Error.WriteLineAsync($"error: {e.Message}" + (e.Error == MirrorKvError.OutOfMemory
                    ? $" ({options.Keys:N0} keys of {options.ValueSize:N0} B do not fit: use fewer --keys, a smaller --value-size, or a node with a larger --max-memory)"
                    : ""));
                return 1;
            }
            catch (BenchReadMismatchException e)
            {
                await Console.Error.WriteLineAsync($"error: {e.Message}");
                return 1;
            }

            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(report.ToJson());
            }

            return 0;
        });
        return command;
    }

    private static async Task<int> FreezeAsync(int freezes, int keys, bool json, CancellationToken cancellationToken)
    {
        var runner = new Chaos.ChaosRunner(new Chaos.ChaosOptions(freezes, Seed: 1, keys, PrimaryOnly: true) { Faults = [Chaos.ChaosFault.PausePrimary], PauseMs = 2_000, Controls = true }, Console.Out);
        int exitCode = await runner.RunAsync(cancellationToken);
        if (json && runner.Result is { } result)
        {
            Console.Out.WriteLine(result.ToJson("failover_freezes"));
        }

        return exitCode;
    }

    private static async Task<int> FailoverAsync(int kills, int keys, bool json, CancellationToken cancellationToken)
    {
        var runner = new Chaos.ChaosRunner(new Chaos.ChaosOptions(kills, Seed: 1, keys, PrimaryOnly: true) { Controls = true }, Console.Out);
        int exitCode = await runner.RunAsync(cancellationToken);
        if (json && runner.Result is { } result)
        {
            Console.Out.WriteLine(result.ToJson("failover_kills"));
        }

        return exitCode;
    }

    private static Option<int> Positive(string name, string description, int defaultValue, int max)
    {
        var option = new Option<int>(name) { Description = description, DefaultValueFactory = _ => defaultValue };
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 1 || r.GetValueOrDefault<int>() > max)
            {
                r.AddError($"{name} must be between 1 and {max}.");
            }
        });
        return option;
    }

    // With --eviction: 1 MiB slabs enough for a quarter of the keys in their size class (the hit-ratio figure of
    // issue 16 is for a key space four times the memory limit).
    private static string QuarterRegionFor(BenchOptions options)
    {
        var classes = new MirrorKv.Store.SizeClassTable(1 << 20);
        int sizeClass = classes.ClassFor(28 + 16 + options.ValueSize);
        long perSlab = sizeClass < 0 ? 0 : (1 << 20) / classes.SlotSize(sizeClass);
        if (perSlab == 0)
        {
            // A large value takes slabs in a row of its own.
            return $"{Math.Max(2, ((long)options.Keys / 4 * classes.SpanSlabs(28 + 16 + options.ValueSize)) + 1)}m";
        }

        long slabs = ((options.Keys / 4) + perSlab - 1) / perSlab;
        return $"{Math.Max(2, slabs)}m";
    }

    // Room for every key with slack for size classes and the slabs each class claims.
    private static string RegionSizeFor(BenchOptions options)
    {
        long perKey = (28 + 16 + options.ValueSize) * 5L / 4;
        long mib = Math.Max(64, ((options.Keys * perKey) >> 20) + 64);
        return $"{mib}m";
    }
}
