using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace MirrorKv.IntegrationTests;

/// <summary>The mirrorkv CLI run as a process as an operator runs it, its stdout and stderr kept apart.</summary>
internal sealed class CliProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    private CliProcess(Process process) => _process = process;

    public int Pid => _process.Id;

    public string Stdout
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>Runs <c>mirrorkv args</c> to its end: exit code, stdout, stderr.</summary>
    public static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args) => RunWithEnvironmentAsync(new Dictionary<string, string>(), args);

    /// <summary>Runs <c>mirrorkv args</c> to its end with more environment variables (which the nodes it starts inherit).</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunWithEnvironmentAsync(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        await using CliProcess cli = Start(environment, args);
        int code = await cli.WaitForExitAsync(TimeSpan.FromSeconds(60));
        return (code, cli.Stdout, cli.Stderr);
    }

    /// <summary>Starts <c>mirrorkv args</c> and returns while it runs.</summary>
    public static CliProcess Start(params string[] args) => Start(new Dictionary<string, string>(), args);

    private static CliProcess Start(IReadOnlyDictionary<string, string> environment, string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.Environment.Remove("MIRRORKV_SECRET");
        foreach ((string name, string value) in environment)
        {
            start.Environment[name] = value;
        }

        start.ArgumentList.Add(NodeProcess.CliPath());
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        var cli = new CliProcess(Process.Start(start)!);
        cli._process.OutputDataReceived += (_, e) => Append(cli._stdout, e.Data);
        cli._process.ErrorDataReceived += (_, e) => Append(cli._stderr, e.Data);
        cli._process.BeginOutputReadLine();
        cli._process.BeginErrorReadLine();
        return cli;
    }

    /// <summary>SIGINT, what Ctrl+C sends.</summary>
    public async Task InterruptAsync()
    {
        using Process kill = Process.Start("kill", ["-INT", Pid.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
    }

    public async Task<int> WaitForExitAsync(TimeSpan limit)
    {
        using var timeout = new CancellationTokenSource(limit);
        await _process.WaitForExitAsync(timeout.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private static void Append(StringBuilder text, string? line)
    {
        if (line is not null)
        {
            lock (text)
            {
                text.Append(line).Append('\n');
            }
        }
    }
}
