using System.CommandLine;

namespace MirrorKv.Cli.Demo;

/// <summary><c>mirrorkv demo</c> (the main job: on a pair, or with <c>--cluster N</c> on a cluster) and <c>mirrorkv store-demo</c> (one store, no network).</summary>
internal static class DemoCommands
{
    public static Command CreateDemo()
    {
        Option<int> keys = Ranged("--keys", "How many keys to load.", PairDemoOptions.Default.Keys, 1, 1_000_000);
        Option<int> valueSize = Ranged("--value-size", "Bytes per value.", PairDemoOptions.Default.ValueSize, 16, 100_000);
        var json = new Option<bool>("--json") { Description = "Also print the summary as one JSON object on the last line (snake_case fields, see README)." };
        Option<int> cluster = Ranged("--cluster", "Run on a cluster of this many pairs (2 to 8) with a local etcd: a slot move, and kill -9 of a primary while it runs.", 0, 0, 8);
        cluster.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() == 1)
            {
                r.AddError("--cluster needs at least 2 pairs (slots move from one to another); without it the demo runs on one pair.");
            }
        });
        var command = new Command("demo", "Start a primary and a secondary (or, with --cluster N, etcd and N pairs), run a workload, kill -9 a primary, and check every acknowledged write.")
        {
            keys,
            valueSize,
            json,
            cluster,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            int pairs = parse.GetValue(cluster);
            return pairs == 0
                ? await new PairDemo(PairDemoOptions.Default with { Keys = parse.GetValue(keys), ValueSize = parse.GetValue(valueSize), Json = parse.GetValue(json) }, Console.Out).RunAsync(cancellationToken)
                : await new ClusterDemo(ClusterDemoOptions.Default with { Pairs = pairs, Keys = parse.GetValue(keys), ValueSize = parse.GetValue(valueSize), Json = parse.GetValue(json) }, Console.Out).RunAsync(cancellationToken);
        });
        return command;
    }

    public static Command CreateStoreDemo()
    {
        Option<int> keys = Ranged("--keys", "How many keys to load.", StoreDemoOptions.Default.Keys, 1, 20_000_000);
        Option<int> valueSize = Ranged("--value-size", "Bytes per value.", StoreDemoOptions.Default.ValueSize, 16, 100_000);
        var seed = new Option<int>("--seed") { Description = "Seed for values and the keys chosen for updates and deletes.", DefaultValueFactory = _ => StoreDemoOptions.Default.Seed };
        var command = new Command("store-demo", "Exercise one store engine without a network: one-sided reads, updates, deletes, a mirrored copy read through slab translation, memory per entry.")
        {
            keys,
            valueSize,
            seed,
        };
        command.SetAction(parse => new StoreDemo(new StoreDemoOptions(parse.GetValue(keys), parse.GetValue(valueSize), parse.GetValue(seed)), Console.Out).Run());
        return command;
    }

    private static Option<int> Ranged(string name, string description, int defaultValue, int min, int max)
    {
        var option = new Option<int>(name) { Description = description, DefaultValueFactory = _ => defaultValue };
        option.Validators.Add(r =>
        {
            int value = r.GetValueOrDefault<int>();
            if (value < min || value > max)
            {
                r.AddError($"{name} must be between {min} and {max}.");
            }
        });
        return option;
    }
}
