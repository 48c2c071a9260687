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
        var op = new Option<string>("--op") { Description = "get (one-sided reads) or set (replicated writes).", DefaultValueFactory = _ => "get" };
        op.AcceptOnlyFromAmong("get", "set");
        var keys = Positive("--keys", "Distinct keys.", 100_000, 10_000_000);
        var valueSize = Positive("--value-size", "Bytes per value.", 100, 1_000_000);
        var connections = Positive("--connections", "Client connections.", 4, 256);
        var pipeline = Positive("--pipeline", "Requests in flight per connection.", 1, 1024);
        var duration = Positive("--duration", "Seconds to measure.", 5, 3600);
        var warmup = Positive("--warmup", "Seconds to run before measuring.", 1, 600);
        var replication = new Option<string>("--replication") { Description = "sync or async, for a pair the bench starts.", DefaultValueFactory = _ => "sync" };
        replication.AcceptOnlyFromAmong("sync", "async");
        var compare = new Option<string?>("--compare") { Description = "redis: also drive redis-server (with a replica attached) with the same harness, and run redis-benchmark as a reference." };
        compare.AcceptOnlyFromAmong("redis");

        Option<string?> secretFile = SecretSource.ClientFileOption();
        var command = new Command("bench", "Measure get or set throughput and latency (HdrHistogram percentiles) against a pair.")
        {
            primary, op, keys, valueSize, connections, pipeline, duration, warmup, replication, compare, secretFile,
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

            var errors = new List<string>();
            byte[]? secret = SecretSource.Read(parse.GetValue(secretFile), SecretSource.ClientVariable, "--secret-file", errors, out _);
            if (errors.Count > 0)
            {
                await Console.Error.WriteLineAsync($"error: {errors[0]}");
                return 2;
            }

            var options = new BenchOptions(endPoint, parse.GetValue(op)!, parse.GetValue(keys), parse.GetValue(valueSize), parse.GetValue(connections),
                parse.GetValue(pipeline), TimeSpan.FromSeconds(parse.GetValue(duration)), TimeSpan.FromSeconds(parse.GetValue(warmup)), parse.GetValue(replication)!);
            await using PairLauncher? pair = endPoint is null ? await PairLauncher.StartAsync(RegionSizeFor(options), options.Replication, Console.Error) : null;
            Console.Out.WriteLine(pair is null ? $"bench against {endPoint}" : $"bench against a {options.Replication} pair started here: primary {pair.Primary.EndPoint}, secondary {pair.Secondary.EndPoint}");
            string[] keyNames = Enumerable.Range(0, options.Keys).Select(i => "key:" + i.ToString("D12", System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            byte[] value = new byte[options.ValueSize];
            new Random(1).NextBytes(value);
            var runner = new BenchRunner(options, Console.Out);
            var ours = new IBenchConnection[options.Connections];
            for (int c = 0; c < ours.Length; c++)
            {
                MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { PrimaryEndPoint = endPoint ?? pair!.Primary.EndPoint, RequestTimeout = TimeSpan.FromSeconds(10), Secret = pair?.Secret ?? secret }, cancellationToken);
                ours[c] = new MirrorKvBenchConnection(client, keyNames, value, options.Pipeline);
            }

            BenchResult mirror;
            try
            {
                mirror = await runner.RunAsync("mirrorkv", ours, cancellationToken);
            }
            finally
            {
                foreach (IBenchConnection c in ours)
                {
                    await c.DisposeAsync();
                }
            }

            Console.Out.WriteLine(mirror);
            if (parse.GetValue(compare) is null)
            {
                return 0;
            }

            await using var pair2 = await RedisPair.StartAsync(Console.Error);
            if (pair2 is null)
            {
                Console.Out.WriteLine("redis comparison skipped: redis-server not found (install it with: apt-get install redis-server redis-tools)");
                return 0;
            }

            var theirs = new IBenchConnection[options.Connections];
            byte[][] keyBytes = keyNames.Select(k => System.Text.Encoding.ASCII.GetBytes(k)).ToArray();
            for (int c = 0; c < theirs.Length; c++)
            {
                theirs[c] = new RedisBenchConnection(await Redis.RespClient.ConnectAsync(pair2.Port), keyBytes, value, options.Pipeline);
            }

            BenchResult redis;
            try
            {
                redis = await runner.RunAsync("redis", theirs, cancellationToken);
            }
            finally
            {
                foreach (IBenchConnection c in theirs)
                {
                    await c.DisposeAsync();
                }
            }

            Console.Out.WriteLine(redis);
            Console.Out.WriteLine($"ratio    {options.Operation,-4} {options.ValueSize,6} B  c={options.Connections} P={options.Pipeline,-3} mirrorkv / redis = {mirror.OpsPerSecond / redis.OpsPerSecond:F2}");
            string? reference = await pair2.RunRedisBenchmarkAsync(options);
            Console.Out.WriteLine(reference is null ? "redis-benchmark not found: no reference figure" : $"redis-benchmark reference (C client): {reference}");
            return 0;
        });
        return command;
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

    // Room for every key with slack for size classes and the slabs each class claims.
    private static string RegionSizeFor(BenchOptions options)
    {
        long perKey = (28 + 16 + options.ValueSize) * 5L / 4;
        long mib = Math.Max(64, ((options.Keys * perKey) >> 20) + 64);
        return $"{mib}m";
    }
}
