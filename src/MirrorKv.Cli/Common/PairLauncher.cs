using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace MirrorKv.Cli;

/// <summary>
/// Starts a primary and a secondary as child processes of this very binary (<c>mirrorkv serve</c>) on free
/// loopback ports, waits for their ready lines, and kills them on dispose, whatever the exit path. The pair
/// gets a fresh random secret (through the environment, never the command line), as a real deployment
/// should have; clients of the pair use <see cref="Secret"/>.
/// </summary>
internal sealed class PairLauncher : IAsyncDisposable
{
    private readonly List<ChildNode> _children = [];
    private readonly string _secretText = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    /// <summary>The pair's client and peer secret.</summary>
    public byte[] Secret => System.Text.Encoding.UTF8.GetBytes(_secretText);

    /// <summary>The primary as started (restarts append new nodes; callers track roles after failovers).</summary>
    public ChildNode Primary => _children[0];

    public ChildNode Secondary => _children[1];

    public static async Task<PairLauncher> StartAsync(string regionSize, string replication, TextWriter log)
    {
        var pair = new PairLauncher();
        try
        {
            var primary = await ChildNode.StartAsync("primary", ["--region-size", regionSize, "--replication", replication], pair._secretText, log);
            pair._children.Add(primary);
            pair._children.Add(await ChildNode.StartAsync("secondary", ["--region-size", regionSize, "--primary", primary.EndPoint.ToString()], pair._secretText, log));
            return pair;
        }
        catch
        {
            await pair.DisposeAsync();
            throw;
        }
    }

    /// <summary>A primary alone (no secondary yet): <see cref="RestartAsSecondaryAsync"/> attaches one later.</summary>
    public static async Task<PairLauncher> StartPrimaryAsync(string regionSize, string replication, TextWriter log)
    {
        var pair = new PairLauncher();
        pair._children.Add(await ChildNode.StartAsync("primary", ["--region-size", regionSize, "--replication", replication], pair._secretText, log));
        return pair;
    }

    /// <summary>
    /// Starts a node as secondary of <paramref name="primary"/> in place of the killed <paramref name="victim"/>,
    /// and gives the task that completes when it has caught up.
    /// </summary>
    public async Task<(ChildNode Node, Task CaughtUp)> RestartAsSecondaryAsync(ChildNode? victim, IPEndPoint primary, string regionSize, TextWriter log)
    {
        if (victim is not null)
        {
            await victim.DisposeAsync();
            _children.Remove(victim);
        }

        ChildNode child = await ChildNode.StartAsync("secondary", ["--region-size", regionSize, "--primary", primary.ToString()], _secretText, log, watchFor: "caught up");
        _children.Add(child);
        return (child, child.Watched);
    }

    public async ValueTask DisposeAsync()
    {
        // Quiet first: the survivor's view of the other node's end (a promotion attempt, a lost peer) is
        // not news at teardown, and would land after the caller's last line (the bench's JSON).
        foreach (ChildNode child in _children)
        {
            child.Quiet();
        }

        foreach (ChildNode child in _children)
        {
            await child.DisposeAsync();
        }
    }

    /// <summary>One child <c>mirrorkv serve</c> process.</summary>
    internal sealed class ChildNode : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private bool _quiet;

        private ChildNode(Process process, IPEndPoint endPoint)
        {
            _process = process;
            EndPoint = endPoint;
        }

        public IPEndPoint EndPoint { get; }

        /// <summary>Completes when a line containing the text given at start was printed.</summary>
        public Task Watched => _watched?.Task ?? Task.CompletedTask;

        private TaskCompletionSource? _watched;
        private string? _watchFor;
        private string _lastWatchedLine = "";

        /// <summary>The last line that contained <paramref name="text"/> (the watched text).</summary>
        public string LastLineContaining(string text) => _watchFor == text ? _lastWatchedLine : "";

        public static async Task<ChildNode> StartAsync(string role, string[] args, string secret, TextWriter log, string? watchFor = null)
        {
            var endPoint = new IPEndPoint(IPAddress.Loopback, FreePort());
            ProcessStartInfo start = SelfStartInfo();
            start.Environment[SecretSource.ClientVariable] = secret;
            start.Environment.Remove(SecretSource.PeerVariable);
            foreach (string arg in new[] { "serve", "--role", role, "--listen", endPoint.ToString() }.Concat(args))
            {
                start.ArgumentList.Add(arg);
            }

            start.RedirectStandardOutput = true;
            start.RedirectStandardError = true;
            var child = new ChildNode(Process.Start(start) ?? throw new InvalidOperationException("could not start mirrorkv serve"), endPoint);
            if (watchFor is not null)
            {
                // Armed before the first line can arrive: a fast catch-up must not be missed.
                child._watchFor = watchFor;
                child._watched = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            child._process.OutputDataReceived += (_, e) => child.OnLine(e.Data, role, log);
            child._process.ErrorDataReceived += (_, e) => child.OnLine(e.Data, role, log);
            child._process.BeginOutputReadLine();
            child._process.BeginErrorReadLine();
            try
            {
                await child._ready.Task.WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch
            {
                await child.DisposeAsync();
                throw;
            }

            return child;
        }

        /// <summary>Stops passing the child's log lines on.</summary>
        public void Quiet() => Volatile.Write(ref _quiet, true);

        /// <summary>SIGKILL, as kill -9.</summary>
        public async Task KillAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                await _process.WaitForExitAsync();
            }
        }

        public async ValueTask DisposeAsync()
        {
            await KillAsync();
            _process.Dispose();
        }

        private static ProcessStartInfo SelfStartInfo()
        {
            string self = Environment.ProcessPath ?? "dotnet";
            string assembly = typeof(PairLauncher).Assembly.Location;
            var start = new ProcessStartInfo(self) { UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(self).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
            {
                start.ArgumentList.Add(assembly);
            }

            return start;
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        private void OnLine(string? line, string role, TextWriter log)
        {
            if (line is null)
            {
                _ready.TrySetException(new InvalidOperationException($"the {role} exited before it was ready"));
                return;
            }

            if (line.StartsWith("ready ", StringComparison.Ordinal))
            {
                _ready.TrySetResult();
            }
            else if (!Volatile.Read(ref _quiet) && (line.Contains("fail", StringComparison.OrdinalIgnoreCase) || line.StartsWith("error", StringComparison.Ordinal)))
            {
                log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{role}] {line}"));
            }

            if (_watchFor is not null && line.Contains(_watchFor, StringComparison.Ordinal))
            {
                _lastWatchedLine = line;
                _watched!.TrySetResult();
            }
        }
    }
}
