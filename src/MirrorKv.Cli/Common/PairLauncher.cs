using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace MirrorKv.Cli;

/// <summary>
/// Starts a primary and a secondary as child processes of this very binary (<c>mirrorkv serve</c>) on free
/// loopback ports, waits for their ready lines, and kills them on dispose, whatever the exit path. The pair
/// gets a fresh random secret (through the environment, never the command line), as a real deployment
/// should have; clients of the pair use <see cref="Secret"/>. A node may sit behind an address of the
/// caller's (a relay): it listens on one endpoint and advertises the other to its peer and clients. A
/// restarted node keeps its endpoints, as a restarted host keeps its address.
/// </summary>
internal sealed partial class PairLauncher : IAsyncDisposable
{
    private readonly List<ChildNode> _children = [];
    private readonly Dictionary<IPEndPoint, TextWriter> _nodeLogs = [];
    private string? _nodeLogDirectory;
    private string[] _nodeArgs = [];
    private readonly string _secretText = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    /// <summary>The pair's client and peer secret.</summary>
    public byte[] Secret => System.Text.Encoding.UTF8.GetBytes(_secretText);

    /// <summary>The primary as started (restarts append new nodes; callers track roles after failovers).</summary>
    public ChildNode Primary => _children[0];

    public ChildNode Secondary => _children[1];

    /// <summary>The two nodes' current processes, in the order started (a restart takes its victim's place).</summary>
    public IReadOnlyList<ChildNode> Nodes => _children;

    /// <summary>
    /// Starts a primary and its secondary. <paramref name="addresses"/>, when given, holds for each (primary
    /// first) the endpoint it listens on and the one it advertises; by default each listens on a free
    /// loopback port and advertises that. With <paramref name="nodeLogs"/>, every line each node prints
    /// goes to a file per node there (node-PORT.log, restarts appended), stamped with the wall clock.
    /// <paramref name="nodeArgs"/> go to every <c>serve</c> of this pair, restarts included (for one,
    /// <c>--coordinator URLS --pair-name NAME</c>: a node restarted without them would be in pair mode).
    /// </summary>
    public static async Task<PairLauncher> StartAsync(string regionSize, string replication, TextWriter log, IReadOnlyList<NodeAddress>? addresses = null, string? nodeLogs = null, IReadOnlyList<string>? nodeArgs = null)
    {
        // Both nodes get the replication mode: a secondary refuses to follow a primary with another.
        var pair = new PairLauncher { _nodeLogDirectory = nodeLogs, _nodeArgs = ["--replication", replication, .. nodeArgs ?? []] };
        NodeAddress first = addresses?[0] ?? NodeAddress.Direct(FreeListenEndPoint());
        NodeAddress second = addresses?[1] ?? NodeAddress.Direct(FreeListenEndPoint());
        try
        {
            var primary = await ChildNode.StartAsync("primary", first, ["--max-memory", regionSize, .. pair._nodeArgs], pair._secretText, log, pair.NodeLog(first));
            pair._children.Add(primary);
            pair._children.Add(await ChildNode.StartAsync("secondary", second, ["--max-memory", regionSize, "--primary", primary.EndPoint.ToString(), .. pair._nodeArgs], pair._secretText, log, pair.NodeLog(second)));
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
        var pair = new PairLauncher { _nodeArgs = ["--replication", replication] };
        pair._children.Add(await ChildNode.StartAsync("primary", NodeAddress.Direct(FreeListenEndPoint()), ["--max-memory", regionSize, .. pair._nodeArgs], pair._secretText, log, nodeLog: null));
        return pair;
    }

    /// <summary>Starts a new secondary of <paramref name="primary"/> on a free endpoint, and gives the task that completes when it has caught up.</summary>
    public async Task<(ChildNode Node, Task CaughtUp)> AddSecondaryAsync(IPEndPoint primary, string regionSize, TextWriter log)
    {
        NodeAddress address = NodeAddress.Direct(FreeListenEndPoint());
        ChildNode child = await ChildNode.StartAsync("secondary", address, ["--max-memory", regionSize, "--primary", primary.ToString(), .. _nodeArgs], _secretText, log, NodeLog(address), watchFor: "caught up");
        _children.Add(child);
        return (child, child.Watched);
    }

    /// <summary>
    /// Starts a node as secondary of <paramref name="primary"/> in place of the killed <paramref name="victim"/>,
    /// at the victim's endpoints, and gives the task that completes when it has caught up. Throws when the
    /// new process exits before it is ready (for one, when <paramref name="primary"/> does not accept it);
    /// the victim's place then stays with the dead victim, so the caller may try again.
    /// </summary>
    public async Task<(ChildNode Node, Task CaughtUp)> RestartAsSecondaryAsync(ChildNode victim, IPEndPoint primary, string regionSize, TextWriter log)
    {
        await victim.DisposeAsync();
        ChildNode child = await ChildNode.StartAsync("secondary", victim.Address, ["--max-memory", regionSize, "--primary", primary.ToString(), .. _nodeArgs], _secretText, log, NodeLog(victim.Address), watchFor: "caught up");
        _children[_children.IndexOf(victim)] = child;
        return (child, child.Watched);
    }

    /// <summary>
    /// A free loopback endpoint below the kernel's ephemeral port range, so that a node restarted at the
    /// same endpoint cannot find its port taken by some connection's local end in the meantime.
    /// </summary>
    public static IPEndPoint FreeListenEndPoint()
    {
        int below = EphemeralPortsStart();
        for (int attempt = 0; attempt < 200 && below > 11_000; attempt++)
        {
            var candidate = new IPEndPoint(IPAddress.Loopback, Random.Shared.Next(10_000, below));
            try
            {
                using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                probe.Bind(candidate);
                return candidate;
            }
            catch (SocketException)
            {
            }
        }

        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return (IPEndPoint)listener.LocalEndpoint;
    }

    private static int EphemeralPortsStart()
    {
        try
        {
            string range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range");
            return int.Parse(range.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[0], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return 32_768;
        }
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

        foreach (TextWriter nodeLog in _nodeLogs.Values)
        {
            await nodeLog.DisposeAsync();
        }
    }

    private TextWriter? NodeLog(NodeAddress address)
    {
        if (_nodeLogDirectory is null)
        {
            return null;
        }

        if (!_nodeLogs.TryGetValue(address.Listen, out TextWriter? writer))
        {
            Directory.CreateDirectory(_nodeLogDirectory);
            writer = _nodeLogs[address.Listen] = TextWriter.Synchronized(new StreamWriter(Path.Combine(_nodeLogDirectory, $"node-{address.Listen.Port}.log"), append: true) { AutoFlush = true });
        }

        return writer;
    }

    /// <summary>Where a node listens, and where its peer and clients reach it (the same unless a relay sits in front).</summary>
    internal sealed record NodeAddress(IPEndPoint Listen, IPEndPoint Advertised)
    {
        public static NodeAddress Direct(IPEndPoint listen) => new(listen, listen);
    }

    /// <summary>One child <c>mirrorkv serve</c> process.</summary>
    internal sealed partial class ChildNode : IAsyncDisposable
    {
        private const int SigStop = 19;
        private const int SigCont = 18;
        private readonly Process _process;
        private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

        // The node's last lines, for the error when it does not become ready.
        private readonly Queue<string> _lastLines = new();
        private bool _quiet;
        private bool _disposed;

        private ChildNode(Process process, NodeAddress address)
        {
            _process = process;
            Address = address;
        }

        /// <summary>Where the peer and clients reach the node: the advertised endpoint.</summary>
        public IPEndPoint EndPoint => Address.Advertised;

        /// <summary>The child's process id (for /proc/PID/status).</summary>
        public int ProcessId => _process.Id;

        /// <summary>The node's own socket, reached past any relay.</summary>
        public IPEndPoint ListenEndPoint => Address.Listen;

        public NodeAddress Address { get; }

        /// <summary>Completes when a line containing the text given at start was printed.</summary>
        public Task Watched => _watched?.Task ?? Task.CompletedTask;

        private TaskCompletionSource? _watched;
        private string? _watchFor;
        private string _lastWatchedLine = "";

        /// <summary>The last line that contained <paramref name="text"/> (the watched text).</summary>
        public string LastLineContaining(string text) => _watchFor == text ? _lastWatchedLine : "";

        public static async Task<ChildNode> StartAsync(string role, NodeAddress address, string[] args, string secret, TextWriter log, TextWriter? nodeLog, string? watchFor = null)
        {
            ProcessStartInfo start = SelfStartInfo();
            start.Environment[SecretSource.ClientVariable] = secret;
            start.Environment.Remove(SecretSource.PeerVariable);
            string[] advertise = address.Advertised.Equals(address.Listen) ? [] : ["--advertise", address.Advertised.ToString()];
            foreach (string arg in new[] { "serve", "--role", role, "--listen", address.Listen.ToString() }.Concat(advertise).Concat(args))
            {
                start.ArgumentList.Add(arg);
            }

            start.RedirectStandardOutput = true;
            start.RedirectStandardError = true;
            var child = new ChildNode(Process.Start(start) ?? throw new InvalidOperationException("could not start mirrorkv serve"), address);
            if (watchFor is not null)
            {
                // Armed before the first line can arrive: a fast catch-up must not be missed.
                child._watchFor = watchFor;
                child._watched = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            nodeLog?.WriteLine($"{DateTime.Now:HH:mm:ss.fff} ===== started: mirrorkv {string.Join(' ', start.ArgumentList)} (pid {child._process.Id})");
            child._process.OutputDataReceived += (_, e) => child.OnLine(e.Data, role, log, nodeLog);
            child._process.ErrorDataReceived += (_, e) => child.OnLine(e.Data, role, log, nodeLog);
            child._process.BeginOutputReadLine();
            child._process.BeginErrorReadLine();
            try
            {
                await child._ready.Task.WaitAsync(ReadyWithin);
            }
            catch (TimeoutException)
            {
                await child.DisposeAsync();
                throw new NodeStartException($"the {role} node (mirrorkv serve --listen {address.Listen}) printed no ready line within {ReadyWithin.TotalSeconds:F0} s{child.LastLines()}");
            }
            catch
            {
                await child.DisposeAsync();
                throw;
            }

            return child;
        }

        private static readonly TimeSpan ReadyWithin = TimeSpan.FromSeconds(30);

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

        /// <summary>SIGSTOP: the process stops where it is, its sockets stay open and fill up.</summary>
        public void Pause() => Signal(SigStop);

        /// <summary>SIGCONT: the process goes on with whatever queued up meanwhile.</summary>
        public void Resume() => Signal(SigCont);

        public async ValueTask DisposeAsync()
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            await KillAsync();
            _process.Dispose();
        }

        private void Signal(int signal)
        {
            if (SendSignal(_process.Id, signal) != 0)
            {
                throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
            }
        }

        [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
        private static partial int SendSignal(int pid, int signal);

        private static ProcessStartInfo SelfStartInfo()
        {
            string self = Environment.ProcessPath ?? "dotnet";
            var start = new ProcessStartInfo(self) { UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(self).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
            {
                // Run as `dotnet mirrorkv.dll`; a published single file is its own process path and needs no argument.
                start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, typeof(PairLauncher).Assembly.GetName().Name + ".dll"));
            }

            return start;
        }

        private string LastLines()
        {
            lock (_lastLines)
            {
                return _lastLines.Count == 0 ? "; it printed nothing" : $"; its last lines:\n  {string.Join("\n  ", _lastLines)}";
            }
        }

        private void OnLine(string? line, string role, TextWriter log, TextWriter? nodeLog)
        {
            nodeLog?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{DateTime.Now:HH:mm:ss.fff} {line ?? "===== output closed"}"));
            if (line is null)
            {
                if (!_ready.Task.IsCompleted)
                {
                    _process.WaitForExit(1_000);
                    string code = _process.HasExited ? $" with exit code {_process.ExitCode}" : "";
                    _ready.TrySetException(new NodeStartException($"the {role} node (mirrorkv serve --listen {Address.Listen}) exited{code} before it was ready{LastLines()}"));
                }

                return;
            }

            lock (_lastLines)
            {
                _lastLines.Enqueue(line);
                if (_lastLines.Count > 8)
                {
                    _lastLines.Dequeue();
                }
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
