using System.CommandLine;
using MirrorKv.Cli.Bench;
using MirrorKv.Cli.Demo;
using MirrorKv.Cli.Serve;

// Socket completions run on the epoll thread instead of hopping to the thread pool: node and client
// handlers never block, and the hop (two context switches per receive) halved loopback throughput.
// The runtime reads this once, when the first socket is created, so it is set before anything else.
Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");

var keys = new Option<int>("--keys")
{
    Description = "How many keys to load.",
    DefaultValueFactory = _ => StoreDemoOptions.Default.Keys,
};
keys.Validators.Add(r =>
{
    if (r.GetValueOrDefault<int>() is < 1 or > 20_000_000)
    {
        r.AddError("--keys must be between 1 and 20000000.");
    }
});

var valueSize = new Option<int>("--value-size")
{
    Description = "Bytes per value.",
    DefaultValueFactory = _ => StoreDemoOptions.Default.ValueSize,
};
valueSize.Validators.Add(r =>
{
    if (r.GetValueOrDefault<int>() is < 16 or > 100_000)
    {
        r.AddError("--value-size must be between 16 and 100000 bytes.");
    }
});

var seed = new Option<int>("--seed")
{
    Description = "Seed for the values and the choice of keys to update and delete.",
    DefaultValueFactory = _ => StoreDemoOptions.Default.Seed,
};

var demo = new Command("demo", "Exercise the store engine on defaults and print what it did (until the node pair lands: one store and a mirrored copy with slab translation).")
{
    keys,
    valueSize,
    seed,
};
demo.SetAction(parse => new StoreDemo(
    new StoreDemoOptions(parse.GetValue(keys), parse.GetValue(valueSize), parse.GetValue(seed)),
    Console.Out).Run());

var root = new RootCommand("MirrorKv: a highly available in-memory key-value store with one-sided reads.")
{
    demo,
    ServeCommand.Create(),
    BenchCommand.Create(),
};

return await root.Parse(args).InvokeAsync();
