using System.CommandLine;

namespace MirrorKv.Cli.Chaos;

/// <summary><c>mirrorkv chaos --cycles N --seed S</c>.</summary>
internal static class ChaosCommand
{
    public static Command Create()
    {
        var cycles = new Option<int>("--cycles") { Description = "Kill-and-rejoin cycles.", DefaultValueFactory = _ => 20 };
        cycles.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 1 or > 100_000)
            {
                r.AddError("--cycles must be between 1 and 100000.");
            }
        });
        var seed = new Option<int>("--seed") { Description = "Seed for which node dies and when.", DefaultValueFactory = _ => 1 };
        var keys = new Option<int>("--keys") { Description = "Keys in the checked workload.", DefaultValueFactory = _ => 5000 };
        keys.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 2 or > 1_000_000)
            {
                r.AddError("--keys must be between 2 and 1000000.");
            }
        });
        var command = new Command("chaos", "Kill -9 the primary or the secondary at random under a checked workload, restart it, wait until it caught up, repeat; then check every acknowledged write.")
        {
            cycles, seed, keys,
        };
        command.SetAction(async (parse, cancellationToken) =>
            await new ChaosRunner(new ChaosOptions(parse.GetValue(cycles), parse.GetValue(seed), parse.GetValue(keys)), Console.Out).RunAsync(cancellationToken));
        return command;
    }
}
