using System.Diagnostics;
using System.Globalization;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// A real single-member etcd on free loopback ports with a data directory of its own, for the pair's
/// witness. Skips the test when etcd is not installed (.ci/run installs Debian's etcd-server).
/// </summary>
internal sealed class EtcdProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _dataDir;

    private EtcdProcess(Process process, string dataDir, Uri url)
    {
        _process = process;
        _dataDir = dataDir;
        Url = url;
    }

    public Uri Url { get; }

    public static async Task<EtcdProcess> StartAsync()
    {
        string? etcd = FindOnPath("etcd");
        if (etcd is null)
        {
            Assert.Skip("etcd is not installed (apt-get install etcd-server); .ci/run installs it");
        }

        // A free port can be taken between the probe and etcd's bind (an outgoing connection of another
        // test picks from the same ephemeral range; CI met it once), so a bind failure starts over on new ports.
        for (int attempt = 1; ; attempt++)
        {
            EtcdProcess? node = await TryStartAsync(etcd, lastAttempt: attempt == 5);
            if (node is not null)
            {
                return node;
            }
        }
    }

    private static async Task<EtcdProcess?> TryStartAsync(string etcd, bool lastAttempt)
    {
        int client = Ports.Free(), peer = Ports.Free();
        string dataDir = Path.Combine(Path.GetTempPath(), $"mirrorkv-etcd-{Guid.NewGuid():N}");
        var url = new Uri($"http://127.0.0.1:{client}");
        var start = new ProcessStartInfo(etcd)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[]
        {
            "--data-dir", dataDir, "--name", "witness",
            "--listen-client-urls", $"http://127.0.0.1:{client}", "--advertise-client-urls", $"http://127.0.0.1:{client}",
            "--listen-peer-urls", $"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", $"http://127.0.0.1:{peer}",
            "--initial-cluster", $"witness=http://127.0.0.1:{peer}",
        })
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start)!;
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) => log.Enqueue(e.Data ?? "");
        process.ErrorDataReceived += (_, e) => log.Enqueue(e.Data ?? "");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var node = new EtcdProcess(process, dataDir, url);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(1) };
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using HttpResponseMessage health = await http.GetAsync(new Uri(url, "/health"));
                if (health.IsSuccessStatusCode)
                {
                    return node;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
            }

            if (clock.Elapsed > TimeSpan.FromSeconds(20) || process.HasExited)
            {
                await node.DisposeAsync();
                if (!lastAttempt && log.Any(line => line.Contains("address already in use", StringComparison.Ordinal)))
                {
                    return null;
                }

                throw new InvalidOperationException($"etcd did not become healthy at {url}:\n{string.Join("\n", log.TakeLast(20))}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>SIGSTOP: etcd stands still (an outage that neither node can tell from a dead etcd).</summary>
    public Task PauseAsync() => SignalAsync("-STOP");

    public Task ResumeAsync() => SignalAsync("-CONT");

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await SignalAsync("-CONT");
            _process.Kill();
        }

        // Also when it exited by itself: this waits for its last log lines (the caller may read them).
        await _process.WaitForExitAsync();

        _process.Dispose();
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task SignalAsync(string signal)
    {
        using Process kill = Process.Start("kill", [signal, _process.Id.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
    }

    internal static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);
}
