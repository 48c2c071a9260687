using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace MirrorKv.IntegrationTests;

/// <summary>A real <c>mirrorkv serve</c> process on a free loopback port; killed with SIGKILL or stopped with SIGTERM.</summary>
internal sealed partial class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource<string> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<string> _output = [];

    private NodeProcess(Process process, IPEndPoint endPoint)
    {
        _process = process;
        EndPoint = endPoint;
    }

    public IPEndPoint EndPoint { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return string.Join('\n', _output);
            }
        }
    }

    public static async Task<NodeProcess> StartPrimaryAsync(params string[] extra) =>
        await StartAsync(["--role", "primary", .. extra]);

    public static async Task<NodeProcess> StartSecondaryAsync(IPEndPoint primary, params string[] extra) =>
        await StartAsync(["--role", "secondary", "--primary", primary.ToString(), .. extra]);

    /// <summary>
    /// Waits until this primary reports a caught-up secondary. A secondary prints its ready line before its
    /// copy of the primary's slabs is done, and a secondary that never caught up cannot take over.
    /// </summary>
    public async Task WaitProtectedAsync()
    {
        var deadline = Stopwatch.StartNew();
        while (!await IsProtectedAsync())
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(15))
            {
                throw new TimeoutException($"the pair at {EndPoint} was not protected after 15 s:\n{Output}");
            }

            await Task.Delay(10);
        }
    }

    private async Task<bool> IsProtectedAsync()
    {
        try
        {
            return (await MirrorKv.Client.MirrorKvAdmin.GetStatusAsync(EndPoint)).Protected;
        }
        catch (MirrorKv.Client.MirrorKvException e)
        {
            throw new InvalidOperationException($"{e.Message}; the node said:\n{Output}", e);
        }
    }

    /// <summary>SIGTERM: the host stops the node gracefully; returns the exit code.</summary>
    public async Task<int> TerminateAsync()
    {
        using (Process kill = Process.Start("kill", ["-TERM", Pid.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        await _process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(15)).Token);
        return _process.ExitCode;
    }

    /// <summary>SIGSTOP (a long GC pause, a VM freeze): the process stands still, its sockets stay open.</summary>
    /// <remarks>
    /// kill returns before the process stands still: the kernel wakes one of its threads to start the group
    /// stop, and on a loaded machine the others run on until that thread gets a CPU. So this waits until every
    /// thread is stopped (state T in /proc), and whatever is sent to the node afterwards lands in the pause.
    /// </remarks>
    public async Task PauseAsync()
    {
        await SignalAsync("-STOP");
        var deadline = Stopwatch.StartNew();
        while (!AllThreadsStopped())
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(10))
            {
                throw new TimeoutException($"process {Pid} did not stop within 10 s of SIGSTOP");
            }

            await Task.Delay(1);
        }
    }

    private bool AllThreadsStopped()
    {
        try
        {
            foreach (string task in Directory.EnumerateDirectories($"/proc/{Pid}/task"))
            {
                // The state follows the command name, which is in parentheses and may hold spaces.
                string stat = File.ReadAllText(Path.Combine(task, "stat"));
                char state = stat[stat.LastIndexOf(')') + 2];
                if (state is not ('T' or 't' or 'Z' or 'X'))
                {
                    return false;
                }
            }

            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A thread exited while we looked: look again.
            return false;
        }
    }

    /// <summary>SIGCONT: the process goes on where it stopped, with whatever queued up in its sockets.</summary>
    public Task ResumeAsync() => SignalAsync("-CONT");

    private async Task SignalAsync(string signal)
    {
        using Process kill = Process.Start("kill", [signal, Pid.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
    }

    /// <summary>kill -9: the kernel closes the sockets, nothing runs in the process.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    /// <summary>
    /// Starts <c>mirrorkv serve</c> with <paramref name="args"/>, listening at <paramref name="listen"/> (a free
    /// loopback port by default): the build's <c>mirrorkv.dll</c> under <c>dotnet</c>, or <paramref name="executable"/>
    /// (a published single file) when given.
    /// </summary>
    public static async Task<NodeProcess> StartAsync(string[] args, IPEndPoint? listen = null, IReadOnlyDictionary<string, string>? environment = null, string? executable = null)
    {
        IPEndPoint endPoint = listen ?? Ports.FreeEndPoint();
        var start = new ProcessStartInfo(executable ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        string[] region = args.Contains("--max-memory") || args.Contains("--region-size") ? [] : ["--max-memory", "64m"];
        string[] command = executable is null ? [CliPath(), "serve"] : ["serve"];
        foreach (string arg in command.Concat(["--listen", endPoint.ToString()]).Concat(region).Concat(args))
        {
            start.ArgumentList.Add(arg);
        }

        var node = new NodeProcess(Process.Start(start)!, endPoint);
        node._process.OutputDataReceived += (_, e) => node.OnLine(e.Data);
        node._process.ErrorDataReceived += (_, e) => node.OnLine(e.Data);
        node._process.BeginOutputReadLine();
        node._process.BeginErrorReadLine();
        try
        {
            await node._ready.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException)
        {
            string output = node.Output;
            await node.DisposeAsync();
            throw new InvalidOperationException($"mirrorkv serve did not get ready:\n{output}");
        }

        return node;
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            _ready.TrySetException(new InvalidOperationException($"mirrorkv serve exited:\n{Output}"));
            return;
        }

        lock (_output)
        {
            _output.Add(line);
        }

        if (ReadyLine().IsMatch(line))
        {
            _ready.TrySetResult(line);
        }
    }

    /// <summary>The mirrorkv CLI built next to these tests (same configuration).</summary>
    internal static string CliPath() => BuiltAssembly("src", "MirrorKv.Cli", "mirrorkv.dll");

    /// <summary>Peak resident memory of the process so far (VmHWM), in bytes.</summary>
    public long PeakResidentBytes()
    {
        string line = File.ReadLines($"/proc/{Pid}/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }

    /// <summary>An assembly of this repository built in the same configuration as these tests.</summary>
    internal static string BuiltAssembly(string folder, string project, string assembly)
    {
        string path = Path.Combine(RepositoryRoot(), folder, project, "bin", Configuration, "net10.0", assembly);
        return File.Exists(path) ? path : throw new FileNotFoundException(string.Create(CultureInfo.InvariantCulture, $"Build the solution first: {path} is missing."));
    }

    /// <summary>The configuration these tests were built in (Debug or Release).</summary>
    internal static string Configuration =>
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Debug" : "Release";

    /// <summary>The folder holding MirrorKv.slnx, above the tests' output.</summary>
    internal static string RepositoryRoot()
    {
        DirectoryInfo? dir = new(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "MirrorKv.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new DirectoryNotFoundException("MirrorKv.slnx not found above the test output");
    }

    [GeneratedRegex("^ready role=")]
    private static partial Regex ReadyLine();
}
