using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;

namespace MirrorKv.Cli.Chaos;

/// <summary>
/// A single-member etcd of chaos's own (<c>chaos --coordinator</c> without URLs): the <c>etcd</c> on PATH,
/// on two free loopback ports, with a data directory in a temporary directory that goes with it. One member
/// is enough to witness one pair on one machine; it is no production setup (three members are).
/// </summary>
internal sealed class LocalEtcd : IAsyncDisposable
{
    /// <summary>How to install it where it is missing (Debian and Ubuntu).</summary>
    public const string InstallHint = "apt-get install etcd-server";

    private static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(20);

    private readonly Process _process;
    private readonly string _dataDir;
    private readonly ConcurrentQueue<string> _firstLines = new();
    private readonly ConcurrentQueue<string> _lastLines = new();

    private LocalEtcd(Process process, string dataDir, Uri url)
    {
        _process = process;
        _dataDir = dataDir;
        Url = url;
    }

    /// <summary>The client URL, as nodes take it with <c>--coordinator</c>.</summary>
    public Uri Url { get; }

    /// <summary>The etcd executable on PATH, or null.</summary>
    public static string? FindOnPath() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "etcd")).FirstOrDefault(File.Exists);

    /// <summary>Starts etcd and waits until it reports itself healthy; throws with its last lines when it does not.</summary>
    public static async Task<LocalEtcd> StartAsync(string executable, CancellationToken cancellationToken)
    {
        // Ports below the ephemeral range, as the nodes' (PairLauncher.FreeListenEndPoint).
        IPEndPoint client = PairLauncher.FreeListenEndPoint(), peer = PairLauncher.FreeListenEndPoint();
        string dataDir = Directory.CreateTempSubdirectory("mirrorkv-chaos-etcd-").FullName;
        string url = $"http://{client}";
        var start = new ProcessStartInfo(executable) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in new[]
        {
            "--name", "witness", "--data-dir", Path.Combine(dataDir, "data"),
            "--listen-client-urls", url, "--advertise-client-urls", url,
            "--listen-peer-urls", $"http://{peer}", "--initial-advertise-peer-urls", $"http://{peer}",
            "--initial-cluster", $"witness=http://{peer}",
        })
        {
            start.ArgumentList.Add(arg);
        }

        var etcd = new LocalEtcd(Process.Start(start) ?? throw new InvalidOperationException($"could not start {executable}"), dataDir, new Uri(url));
        etcd._process.OutputDataReceived += (_, e) => etcd.Keep(e.Data);
        etcd._process.ErrorDataReceived += (_, e) => etcd.Keep(e.Data);
        etcd._process.BeginOutputReadLine();
        etcd._process.BeginErrorReadLine();
        try
        {
            await etcd.WaitHealthyAsync(cancellationToken);
            return etcd;
        }
        catch
        {
            await etcd.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                await _process.WaitForExitAsync();
            }
        }
        catch (InvalidOperationException)
        {
            // Exited between the check and the kill.
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task WaitHealthyAsync(CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(1) };
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using HttpResponseMessage health = await http.GetAsync(new Uri(Url, "/health"), cancellationToken);
                if (health.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
            }

            if (_process.HasExited || clock.Elapsed > StartLimit)
            {
                throw new InvalidOperationException(
                    $"etcd at {Url} {(_process.HasExited ? $"exited ({_process.ExitCode})" : $"was not healthy within {StartLimit.TotalSeconds:F0} s")}; its first and last lines:\n  "
                    + string.Join("\n  ", _firstLines.Concat(["..."]).Concat(_lastLines)));
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        // The first lines say why it would not start (a bad flag, a port taken); usage text follows them.
        if (_firstLines.Count < 3)
        {
            _firstLines.Enqueue(line);
            return;
        }

        _lastLines.Enqueue(line);
        while (_lastLines.Count > 5)
        {
            _lastLines.TryDequeue(out _);
        }
    }
}
