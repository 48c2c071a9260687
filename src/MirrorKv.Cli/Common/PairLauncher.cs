using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace MirrorKv.Cli;

/// <summary>
/// Starts a primary and a secondary as child processes of this very binary (<c>mirrorkv serve</c>) on free
/// loopback ports, waits for their ready lines, and kills them on dispose, whatever the exit path.
/// </summary>
internal sealed class PairLauncher : IAsyncDisposable
{
    private readonly List<ChildNode> _children = [];

    public ChildNode Primary => _children[0];

    public ChildNode Secondary => _children[1];

    public static async Task<PairLauncher> StartAsync(string regionSize, string replication, TextWriter log)
    {
        var pair = new PairLauncher();
        try
        {
            var primary = await ChildNode.StartAsync("primary", ["--region-size", regionSize, "--replication", replication], log);
            pair._children.Add(primary);
            pair._children.Add(await ChildNode.StartAsync("secondary", ["--region-size", regionSize, "--primary", primary.EndPoint.ToString()], log));
            return pair;
        }
        catch
        {
            await pair.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts another node as secondary of <paramref name="primary"/> (a rejoin), killed on dispose too.</summary>
    public async Task<ChildNode> StartSecondaryOfAsync(IPEndPoint primary, string regionSize, TextWriter log)
    {
        ChildNode child = await ChildNode.StartAsync("secondary", ["--region-size", regionSize, "--primary", primary.ToString()], log);
        _children.Add(child);
        return child;
    }

    public async ValueTask DisposeAsync()
    {
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
        private readonly List<(string Text, TaskCompletionSource Seen)> _awaited = [];

        private ChildNode(Process process, IPEndPoint endPoint)
        {
            _process = process;
            EndPoint = endPoint;
        }

        public IPEndPoint EndPoint { get; }

        public static async Task<ChildNode> StartAsync(string role, string[] args, TextWriter log)
        {
            var endPoint = new IPEndPoint(IPAddress.Loopback, FreePort());
            ProcessStartInfo start = SelfStartInfo();
            foreach (string arg in new[] { "serve", "--role", role, "--listen", endPoint.ToString() }.Concat(args))
            {
                start.ArgumentList.Add(arg);
            }

            start.RedirectStandardOutput = true;
            start.RedirectStandardError = true;
            var child = new ChildNode(Process.Start(start) ?? throw new InvalidOperationException("could not start mirrorkv serve"), endPoint);
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

        /// <summary>Completes when the node prints a line containing <paramref name="text"/>.</summary>
        public Task WaitForLineAsync(string text, TimeSpan timeout)
        {
            var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_awaited)
            {
                _awaited.Add((text, seen));
            }

            return seen.Task.WaitAsync(timeout);
        }

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
            else if (line.Contains("fail", StringComparison.OrdinalIgnoreCase) || line.StartsWith("error", StringComparison.Ordinal))
            {
                log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{role}] {line}"));
            }

            lock (_awaited)
            {
                foreach ((string text, TaskCompletionSource seen) in _awaited)
                {
                    if (line.Contains(text, StringComparison.Ordinal))
                    {
                        seen.TrySetResult();
                    }
                }
            }
        }
    }
}
