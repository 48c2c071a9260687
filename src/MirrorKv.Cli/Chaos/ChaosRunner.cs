using System.Diagnostics;
using MirrorKv.Client;
using MirrorKv.Linearizability;

namespace MirrorKv.Cli.Chaos;

/// <summary>
/// Injects one fault per cycle (seeded, from <see cref="ChaosOptions.Faults"/>) into a pair of real processes
/// under a checked workload, waits until the pair is protected again, and repeats. Killed nodes are
/// restarted as secondary of the survivor (a supervisor's job); paused nodes and cut links get no help: the
/// pair heals itself. Throughout, a <see cref="PairWatch"/> counts STATUS samples with two serving primaries.
/// At the end every acknowledged write is checked on the primary of the day. Every read and write after the load
/// is recorded with its real-time order, and each key's history is checked for linearizability per cycle (the
/// window closes as the cycle is settled: memory holds one cycle's operations). Exits 1 on a lost write, a bad
/// read, a sample with two primaries, a history that is not linearizable, or when the writes could not be
/// checked at all.
/// </summary>
internal sealed partial class ChaosRunner(ChaosOptions options, TextWriter output)
{
    private const string RegionSize = "64m";

    // Every node's --max-memory, the restarted ones' too: a node given more than its peer would stop evicting once
    // promoted, and a secondary given less could not hold its primary's copy.
    private string MaxMemory => options.Eviction is null ? RegionSize : ChaosOptions.EvictionMaxMemory;

    // A pair that is not protected this long after a fault ended has not healed by itself; the run stops
    // rather than hang, and says so.
    private static readonly TimeSpan HealLimit = TimeSpan.FromSeconds(30);

    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Random _random = new(options.Seed);
    private PairLauncher _pair = null!;
    private PairWatch _watch = null!;
    private Workload _workload = null!;

    // Every key starts at generation 0, the value the load wrote before the recording began.
    private readonly RollingHistory _history = new(_ => 0);
    private PeerLinkRelay[] _relays = [];

    // With the controls (bench --failover and --freeze): the machine's floor in each window.
    private SleepProbe? _sleeper;
    private int _primary;
    private ulong _epoch = 1;

    /// <summary>The figures of the last run, for callers that report them (bench --failover, --json).</summary>
    public ChaosResult? Result { get; private set; }

    private PairLauncher.ChildNode Primary => _pair.Nodes[_primary];

    private PairLauncher.ChildNode Secondary => _pair.Nodes[1 - _primary];

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        LocalEtcd? etcd = null;
        string? coordinator = options.Coordinator;
        if (coordinator == ChaosOptions.LocalCoordinator)
        {
            if (LocalEtcd.FindOnPath() is not { } executable)
            {
                Say($"error: --coordinator without URLs starts etcd from PATH, and there is none: install it ({LocalEtcd.InstallHint}) or give the URLs of a running etcd");
                return 2;
            }

            try
            {
                etcd = await LocalEtcd.StartAsync(executable, cancellationToken);
            }
            catch (InvalidOperationException e)
            {
                Say($"error: could not start etcd: {e.Message}");
                return 2;
            }

            coordinator = etcd.Url.GetLeftPart(UriPartial.Authority);
        }

        try
        {
            return await RunAsync(coordinator, etcd is not null, cancellationToken);
        }
        finally
        {
            if (etcd is not null)
            {
                await etcd.DisposeAsync();
            }
        }
    }

    private async Task<int> RunAsync(string? coordinator, bool ownEtcd, CancellationToken cancellationToken)
    {
        // A pair name of its own per run: keys another run (or a pair that is not ours) left in a shared etcd
        // must not name our primary.
        string pairName = $"chaos-{options.Seed}-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4))}";
        string[] nodeArgs = coordinator is null ? [] : ["--coordinator", coordinator, "--pair-name", pairName];
        if (options.Eviction is { } policy)
        {
            nodeArgs = [.. nodeArgs, "--eviction", policy];
        }

        Say($"chaos: {options.Cycles} cycles, seed {options.Seed}, {options.Keys:N0} keys, faults {string.Join(",", options.Faults.Select(ChaosFaults.Name))}"
            + (coordinator is null ? "; pair mode (no coordinator)" : $"; coordinator mode: etcd at {coordinator}{(ownEtcd ? " (started by this run)" : "")}, pair name {pairName}")
            + (options.Relayed ? "; each node behind a relay of this process (for cut-link)" : "")
            + (options.Eviction is { } evicting ? $"; eviction {evicting}: --max-memory {ChaosOptions.EvictionMaxMemory} per node, values of {ChaosOptions.EvictionValueSize:N0} and {3 * ChaosOptions.EvictionValueSize:N0} B (a read may miss; a value older than acknowledged is still a bad read)" : "")
            + (options.NodeLogs is null ? "" : $"; node logs in {options.NodeLogs}, this run started at {DateTime.Now:HH:mm:ss.fff}"));
        PairLauncher.NodeAddress[]? addresses = null;
        if (options.Relayed)
        {
            System.Net.IPEndPoint first = PairLauncher.FreeListenEndPoint(), second = PairLauncher.FreeListenEndPoint();
            _relays = [new PeerLinkRelay(first), new PeerLinkRelay(second)];
            addresses = [new(first, _relays[0].EndPoint), new(second, _relays[1].EndPoint)];
        }

        int exit;
        try
        {
            using (_sleeper = options.Controls ? new SleepProbe() : null)
            {
                exit = await RunPairAsync(addresses, nodeArgs, cancellationToken);
            }
        }
        finally
        {
            foreach (PeerLinkRelay relay in _relays)
            {
                await relay.DisposeAsync();
            }
        }

        if (options.Controls && Result is { } result && ControlWindow > TimeSpan.Zero)
        {
            await MeasureMachineAloneAsync(result, cancellationToken);
        }

        return exit;
    }

    /// <summary>
    /// With the nodes stopped and no load: the longest 1 ms sleep of an idle thread in windows as long as the faults',
    /// as many as there were faults (at least 20). No implementation of anything can give a reader less than this.
    /// </summary>
    private async Task MeasureMachineAloneAsync(ChaosResult result, CancellationToken cancellationToken)
    {
        int windows = Math.Max(20, result.ReadStallsMs.Count);
        Say($"the machine alone: {windows} windows of {ControlWindow.TotalMilliseconds:N0} ms with the nodes stopped and nothing running, a thread sleeping 1 ms at a time");
        double[] longest = await SleepProbe.MeasureAloneAsync(windows, ControlWindow, cancellationToken);
        Result = result with { MachineAloneSleepMs = longest };
        (double? p50, double? p99, double? max) = ChaosResult.Percentiles(longest);
        Say($"  longest sleep         p50 {p50,7:F1} ms, p99 {p99,7:F1} ms, max {max,7:F1} ms (per window; a read stall cannot be shorter on this machine)");
    }

    /// <summary>A fault (or control) starts now: the workload's stalls and the machine's floor are measured from here.</summary>
    private void MarkWindow()
    {
        _workload.Mark();
        _sleeper?.Mark();
    }

    private async Task<int> RunPairAsync(PairLauncher.NodeAddress[]? addresses, string[] nodeArgs, CancellationToken cancellationToken)
    {
        await using PairLauncher pair = _pair = await PairLauncher.StartAsync(MaxMemory, "sync", output, addresses, options.NodeLogs, nodeArgs);
        await using PairWatch watch = _watch = new PairWatch([pair.Nodes[0].ListenEndPoint, pair.Nodes[1].ListenEndPoint], pair.Secret, Say);
        await using MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [pair.Primary.EndPoint], Secret = pair.Secret }, cancellationToken);
        await client.WaitForSecondaryAsync(cancellationToken);
        Workload workload = _workload = new Workload(options.Keys, options.Eviction is null ? 100 : ChaosOptions.EvictionValueSize, line => Say(line), _history, missesAllowed: options.Eviction is not null);
        if (!await workload.TryLoadAsync(client, cancellationToken))
        {
            Say($"error: the store is full (OutOfMemory): {options.Keys:N0} keys of 100 B do not fit the chaos nodes' --max-memory {MaxMemory}; use fewer --keys");
            return 2;
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task[] workers = workload.Start(client, readers: 2, writers: 2, stop.Token);

        var cycles = new List<ChaosCycle>();
        var rejoins = new List<Rejoin>();
        var deck = new FaultDeck(options.Faults, _random);
        for (int number = 1; number <= options.Cycles; number++)
        {
            await Task.Delay(_random.Next(100, 500), cancellationToken);

            // The roles as the nodes state them now, not as they were when the last cycle healed: a fault
            // meant for the primary must hit the primary even if the pair changed since.
            if (watch.ProtectedNow() is { } now && (now.Primary, now.Epoch) != (_primary, _epoch))
            {
                Say($"the pair changed since cycle {number - 1} healed: primary now node {now.Primary + 1}, epoch {now.Epoch}");
                (_primary, _epoch) = now;
            }

            ChaosFault fault = deck.Next();
            if (!await RunCycleAsync(number, fault, cycles, rejoins, cancellationToken))
            {
                break;
            }

            if (options.Controls)
            {
                ChaosFault[] controls = [ChaosFault.Idle, ChaosFault.NodeStart];
                _random.Shuffle(controls);
                bool healed = true;
                foreach (ChaosFault control in controls)
                {
                    await Task.Delay(_random.Next(100, 500), cancellationToken);
                    healed = healed && await RunCycleAsync(number, control, cycles, rejoins, cancellationToken);
                }

                if (!healed)
                {
                    break;
                }
            }
        }

        await stop.CancelAsync();
        await Task.WhenAll(workers);
        _history.CheckWindow();
        CheckReport linearizability = _history.Totals;
        int? lost = await VerifyAsync(client, cancellationToken);
        List<ChaosCycle> primaryKills = [.. cycles.Where(IsHealedPrimaryFault)];
        Result = new ChaosResult(options.Cycles, [.. primaryKills.Select(c => c.ReadStallMs)], [.. primaryKills.Select(c => c.WriteStallMs)], [.. rejoins.Select(r => r.Ms)], workload.Writes, lost, workload.BadReads)
        {
            Mode = options.Mode,
            CycleRecords = cycles,
            Reads = workload.Reads,
            FailedReads = workload.FailedReads,
            FailedWrites = workload.FailedWrites,
            StatusSamples = watch.Samples,
            TwoPrimarySamples = watch.TwoPrimarySamples,
            UnconfirmedTwoPrimarySamples = watch.UnconfirmedTwoPrimarySamples,
            Linearizability = linearizability,
            Misses = workload.Misses,
            MissingAtEnd = options.Eviction is null ? null : workload.MissingAtEnd,
        };
        PrintSummary(Result, rejoins);
        return lost == 0 && workload.BadReads == 0 && watch.TwoPrimarySamples == 0 && linearizability.Violations == 0 ? 0 : 1;
    }

    // A kill or pause of the primary that healed: the cycles the stall figures and the controls' window length come from.
    private static bool IsHealedPrimaryFault(ChaosCycle cycle) => cycle is { Fault: ChaosFault.Kill, Variant: "primary", Healed: true } or { Fault: ChaosFault.PausePrimary, Healed: true };

    /// <summary>One cycle: the fault (or control) injected, the pair settled, the window's history checked. False when the pair did not heal.</summary>
    private async Task<bool> RunCycleAsync(int number, ChaosFault fault, List<ChaosCycle> cycles, List<Rejoin> rejoins, CancellationToken cancellationToken)
    {
        long cycleStart = Stopwatch.GetTimestamp();
        Injected injected = fault switch
        {
            ChaosFault.Kill => await KillAsync(rejoins, cancellationToken),
            ChaosFault.PausePrimary => await PauseAsync(Primary, cancellationToken),
            ChaosFault.PauseSecondary => await PauseAsync(Secondary, cancellationToken),
            ChaosFault.CutLink => await CutLinkAsync(cancellationToken),
            ChaosFault.Idle => await IdleAsync(cancellationToken),
            ChaosFault.NodeStart => await NodeStartAsync(cancellationToken),
            _ => await SilentDeathAsync(cancellationToken),
        };

        ChaosCycle cycle = await SettleAsync(number, fault, injected, cancellationToken);
        cycles.Add(cycle);
        if (IsHealedPrimaryFault(cycle))
        {
            ControlWindow = Stopwatch.GetElapsedTime(cycleStart);
        }

        CheckReport window = _history.CheckWindow();
        string label = ChaosFaults.IsControl(fault) ? $"cycle {number,3} control" : $"cycle {number,3}";
        Say($"{label}: {injected.Action}; {Outcome(cycle, injected)}; {_workload.Writes:N0} writes acknowledged, {_workload.BadReads} bad reads; "
            + $"history: {window.Operations:N0} operations on {window.Keys:N0} keys, {window.Violations} not linearizable");
        if (window.FirstViolation is { } violation && _history.Violations == window.Violations)
        {
            Say(violation.ToText());
        }

        if (!cycle.Healed)
        {
            Say($"the pair did not heal within {HealLimit.TotalSeconds:F0} s of the {ChaosFaults.Name(fault)}: stopping after {number} of {options.Cycles} cycles");
            return false;
        }

        // The window's check left its garbage in this process: collected now, between faults, a collection cannot
        // land in the next fault's window, where it would stop every reader at once and count as the pair's stall
        // (20-60 ms each, measured). The workload itself allocates nothing per operation.
        GC.Collect();
        return true;
    }

    /// <summary>
    /// After a fault has ended: waits until the pair is protected again (learning which node is primary now),
    /// then for a good read and an acknowledged write completed after that, and measures the cycle.
    /// </summary>
    private async Task<ChaosCycle> SettleAsync(int number, ChaosFault fault, Injected injected, CancellationToken cancellationToken)
    {
        (int Primary, long At, ulong Epoch)? healed = injected.Restarted
            ? await _watch.WaitProtectedAsync(injected.EndedAt, HealLimit - Stopwatch.GetElapsedTime(injected.EndedAt), cancellationToken)
            : null;
        double? protectedMs = null;
        bool failover = false;
        if (healed is { } h)
        {
            failover = h.Primary != _primary;
            _primary = h.Primary;
            protectedMs = Stopwatch.GetElapsedTime(injected.EndedAt, h.At).TotalMilliseconds;
            _epoch = h.Epoch;
            await WaitForProgressAsync(h.At, cancellationToken);
        }

        (double firstRead, double firstWrite) = _workload.Stalls();
        (double gapRead, double gapWrite) = _workload.LongestGaps();
        return new ChaosCycle(number, fault, injected.Variant, injected.FaultMs, Longer(firstRead, gapRead), Longer(firstWrite, gapWrite), protectedMs, failover, _sleeper?.LongestMs);
    }

    // A good read and an acknowledged write completed after protection: the stalls are over and measured.
    private async Task WaitForProgressAsync(long since, CancellationToken cancellationToken)
    {
        long deadline = Stopwatch.GetTimestamp() + (5 * Stopwatch.Frequency);
        while (_workload.LastCompleted is var (read, write) && (read <= since || write <= since) && Stopwatch.GetTimestamp() < deadline)
        {
            await Task.Delay(5, cancellationToken);
        }
    }

    private static double Longer(double a, double b) => double.IsNaN(a) ? b : Math.Max(a, b);

    private string Outcome(ChaosCycle cycle, Injected injected) =>
        $"read stall {(cycle.Healed ? "" : ">")}{cycle.ReadStallMs,7:F1} ms, write stall {(cycle.Healed ? "" : ">")}{cycle.WriteStallMs,7:F1} ms; "
        + (cycle.ProtectedMs is { } ms
            ? $"protected again {ms,6:F0} ms after {injected.EndName} (primary: node {_primary + 1}, epoch {_epoch})"
            : $"NOT HEALED: not protected {HealLimit.TotalSeconds:F0} s after {injected.EndName}");

    // Reads every key through the client; when no node serves (a pair that did not heal), says so instead.
    private async Task<int?> VerifyAsync(MirrorKvClient client, CancellationToken cancellationToken)
    {
        try
        {
            return await _workload.VerifyAsync(client, cancellationToken);
        }
        catch (MirrorKvException e)
        {
            Say($"the acknowledged writes could not be checked: {e.Message}");
            return null;
        }
    }

    private void Say(string line)
    {
        lock (output)
        {
            output.WriteLine($"[{_clock.Elapsed.TotalSeconds,6:F1} s] {line}");
        }
    }

    /// <summary>What a fault did, and when it ended.</summary>
    /// <param name="Action">For the cycle line: "paused the primary for 2,000 ms".</param>
    /// <param name="Variant">See <see cref="ChaosCycle.Variant"/>.</param>
    /// <param name="FaultMs">See <see cref="ChaosCycle.FaultMs"/>.</param>
    /// <param name="EndedAt">Stopwatch timestamp of the fault's end: SIGKILL, SIGCONT, the link restored.</param>
    /// <param name="EndName">That end, for the cycle line.</param>
    /// <param name="Restarted">False when a killed node could not be brought back within the limit (nothing to wait for).</param>
    private sealed record Injected(string Action, string Variant, double FaultMs, long EndedAt, string EndName, bool Restarted = true);

    /// <summary>A killed node's restart: to its caught-up line, and what it copied.</summary>
    private sealed record Rejoin(double Ms, int Slabs, double CopyMs);

    /// <summary>
    /// Deals the fault kinds in seeded shuffled rounds, each kind once per round: every kind shows up within
    /// any run of as many cycles as there are kinds, and all equally often over a long run.
    /// </summary>
    private sealed class FaultDeck(IReadOnlyList<ChaosFault> faults, Random random)
    {
        private readonly Queue<ChaosFault> _round = new();

        public ChaosFault Next()
        {
            if (_round.Count == 0)
            {
                ChaosFault[] round = [.. faults];
                random.Shuffle(round);
                foreach (ChaosFault fault in round)
                {
                    _round.Enqueue(fault);
                }
            }

            return _round.Dequeue();
        }
    }
}
