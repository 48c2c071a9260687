using System.CommandLine;
using MirrorKv.Cli;
using MirrorKv.Cli.Bench;
using MirrorKv.Cli.Chaos;
using MirrorKv.Cli.Demo;
using MirrorKv.Cli.Keys;
using MirrorKv.Cli.Serve;
using MirrorKv.Cli.Status;
using MirrorKv.Cli.Switchover;

// Socket completions run on the epoll thread instead of hopping to the thread pool: node and client
// handlers never block, and the hop (two context switches per receive) halved loopback throughput.
// The runtime reads this once, when the first socket is created, so it is set before anything else.
Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");

var root = new RootCommand("MirrorKv: a highly available in-memory key-value store with one-sided reads.")
{
    DemoCommands.CreateDemo(),
    DemoCommands.CreateStoreDemo(),
    ServeCommand.Create(),
    BenchCommand.Create(),
    StatusCommand.Create(),
    SwitchoverCommand.Create(),
    ChaosCommand.Create(),
    MirrorKv.Cli.Cluster.ClusterCommand.Create(),
};
foreach (Command command in KeyCommands.Create())
{
    root.Add(command);
}

ParseResult parsed = root.Parse(args);
if (parsed.Action is System.CommandLine.Invocation.ParseErrorAction parseError)
{
    // The errors and where the options are listed, not forty lines of help under them.
    parseError.ShowHelp = false;
}

try
{
    int code = await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
    if (parsed.Errors.Count > 0)
    {
        string command = parsed.CommandResult.Command == root ? "" : parsed.CommandResult.Command.Name + " ";
        Console.Error.WriteLine($"('mirrorkv {command}--help' lists the {(command.Length == 0 ? "commands" : "options")})");

        // Bad arguments exit 2, whichever part of the command line found them (the README's exit codes).
        return 2;
    }

    return code;
}
catch (NodeStartException e)
{
    // A node the command started for itself did not become ready (a port taken, too little memory, a slow
    // machine): which one and its last lines, not a stack trace.
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}
catch (Exception e)
{
    // A bug's stack trace is worth keeping. A cancellation that reaches here was not asked for by Ctrl+C (the commands
    // that wait for it end on it themselves): a timeout taken for one, which must not end the command without a word.
    Console.Error.WriteLine(e is OperationCanceledException ? $"error: gave up waiting: {e.Message}" : $"Unhandled exception: {e}");
    return 1;
}
