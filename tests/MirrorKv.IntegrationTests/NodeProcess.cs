using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
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
    public Task PauseAsync() => SignalAsync("-STOP");

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

    public static async Task<NodeProcess> StartAsync(string[] args)
    {
        var endPoint = new IPEndPoint(IPAddress.Loopback, FreePort());
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { CliPath(), "serve", "--listen", endPoint.ToString(), "--region-size", "64m" }.Concat(args))
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

    /// <summary>A loopback port nothing listens on now.</summary>
    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
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
