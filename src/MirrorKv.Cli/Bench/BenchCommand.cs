using System.CommandLine;
using System.Net;

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

        var command = new Command("bench", "Measure get or set throughput and latency (HdrHistogram percentiles) against a pair.")
        {
            primary, op, keys, valueSize, connections, pipeline, duration, warmup, replication,
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

            var options = new BenchOptions(endPoint, parse.GetValue(op)!, parse.GetValue(keys), parse.GetValue(valueSize), parse.GetValue(connections),
                parse.GetValue(pipeline), TimeSpan.FromSeconds(parse.GetValue(duration)), TimeSpan.FromSeconds(parse.GetValue(warmup)), parse.GetValue(replication)!);
            await using PairLauncher? pair = endPoint is null ? await PairLauncher.StartAsync(RegionSizeFor(options), options.Replication, Console.Error) : null;
            Console.Out.WriteLine(pair is null ? $"bench against {endPoint}" : $"bench against a {options.Replication} pair started here: primary {pair.Primary.EndPoint}, secondary {pair.Secondary.EndPoint}");
            BenchResult result = await new BenchRunner(options, Console.Out).RunAsync(endPoint ?? pair!.Primary.EndPoint, cancellationToken);
            Console.Out.WriteLine(result);
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
