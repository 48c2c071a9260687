using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace MirrorKv.Cli.Chaos;

/// <summary>The faults: each injects, marks the workload at the fault's start, and returns when it has ended.</summary>
internal sealed partial class ChaosRunner
{
    // Pauses and cuts last longer than the secondary's promotion timeout (1 s), so that each one can end in
    // a promotion; at most 3 s, so that a run of hundreds of cycles stays within the hour.
    private const int ShortestFaultMs = 1_500;
    private const int LongestFaultMs = 3_000;

    // A silent death: the secondary stops answering (SIGSTOP) this long before it is killed, so that the
    // primary has long fenced for its silence when the kernel closes the dead node's sockets.
    private const int SilenceBeforeDeathMs = 1_500;

    /// <summary>SIGKILL of the primary or the secondary (seeded), then the killed node restarted as secondary of the survivor.</summary>
    private async Task<Injected> KillAsync(List<Rejoin> rejoins, CancellationToken cancellationToken)
    {
        bool killPrimary = options.PrimaryOnly || _random.Next(2) == 0;
        PairLauncher.ChildNode victim = killPrimary ? Primary : Secondary, survivor = killPrimary ? Secondary : Primary;
        await victim.KillAsync();
        MarkWindow();
        long ended = Stopwatch.GetTimestamp();
        bool restarted = await RestartAsync(victim, survivor, ended, rejoins, cancellationToken);
        return new Injected($"killed the {(killPrimary ? "primary  " : "secondary")}", killPrimary ? "primary" : "secondary", 0, ended, "the kill", restarted);
    }

    /// <summary>SIGSTOP for a seeded 1.5-3 s, then SIGCONT; nothing restarted.</summary>
    private async Task<Injected> PauseAsync(PairLauncher.ChildNode node, CancellationToken cancellationToken)
    {
        string role = node == Primary ? "primary" : "secondary";
        int pauseMs = options.PauseMs ?? _random.Next(ShortestFaultMs, LongestFaultMs + 1);
        node.Pause();
        MarkWindow();
        long started = Stopwatch.GetTimestamp();
        try
        {
            await Task.Delay(pauseMs, cancellationToken);
        }
        finally
        {
            node.Resume();
        }

        long ended = Stopwatch.GetTimestamp();
        return new Injected($"paused the {role,-9} for {pauseMs,5:N0} ms", "", Stopwatch.GetElapsedTime(started, ended).TotalMilliseconds, ended, "SIGCONT");
    }

    /// <summary>The peer link black-holed both ways or one way (seeded) for a seeded 1.5-3 s, then restored; nothing restarted.</summary>
    private async Task<Injected> CutLinkAsync(CancellationToken cancellationToken)
    {
        int cutMs = _random.Next(ShortestFaultMs, LongestFaultMs + 1);

        // Directions as seen from each node's relay: the peer connection may have been dialled either way.
        (string variant, LinkDirections atPrimary, LinkDirections atSecondary) = _random.Next(3) switch
        {
            0 => ("both ways", LinkDirections.Both, LinkDirections.Both),
            1 => ("primary->secondary", LinkDirections.FromNode, LinkDirections.ToNode),
            _ => ("secondary->primary", LinkDirections.ToNode, LinkDirections.FromNode),
        };
        PeerLinkRelay primaryRelay = _relays[_primary], secondaryRelay = _relays[1 - _primary];
        primaryRelay.Cut(atPrimary);
        secondaryRelay.Cut(atSecondary);
        MarkWindow();
        long started = Stopwatch.GetTimestamp();
        try
        {
            await Task.Delay(cutMs, cancellationToken);
        }
        finally
        {
            primaryRelay.Restore();
            secondaryRelay.Restore();
        }

        long ended = Stopwatch.GetTimestamp();
        return new Injected($"cut the link {variant,-18} for {cutMs,5:N0} ms", variant, Stopwatch.GetElapsedTime(started, ended).TotalMilliseconds, ended, "the restore");
    }

    /// <summary>SIGSTOP of the secondary, SIGKILL 1.5 s later without resuming it, then restarted as secondary of the primary.</summary>
    private async Task<Injected> SilentDeathAsync(CancellationToken cancellationToken)
    {
        PairLauncher.ChildNode victim = Secondary, survivor = Primary;
        victim.Pause();
        MarkWindow();
        long started = Stopwatch.GetTimestamp();
        await Task.Delay(SilenceBeforeDeathMs, cancellationToken);
        await victim.KillAsync();
        long ended = Stopwatch.GetTimestamp();
        bool restarted = await RestartAsync(victim, survivor, ended, rejoins: null, cancellationToken);
        return new Injected($"silenced the secondary, killed it {SilenceBeforeDeathMs:N0} ms later", "", Stopwatch.GetElapsedTime(started, ended).TotalMilliseconds, ended, "the kill", restarted);
    }

    /// <summary>A control: no fault, a window as long as the last primary kill's (see <see cref="ControlWindow"/>).</summary>
    private async Task<Injected> IdleAsync(CancellationToken cancellationToken)
    {
        MarkWindow();
        long started = Stopwatch.GetTimestamp();
        await Task.Delay(ControlWindow, cancellationToken);
        return new Injected($"no fault (control) for {ControlWindow.TotalMilliseconds,5:N0} ms", "", 0, started, "the window's start");
    }

    /// <summary>
    /// A control: a node process started beside the pair on its own free endpoint (a lone primary that joins nothing),
    /// kept until the window (as long as the last primary kill's) has passed, then killed. What the pair's readers
    /// lose meanwhile is the cost of a process start on these cores, without any failover.
    /// </summary>
    private async Task<Injected> NodeStartAsync(CancellationToken cancellationToken)
    {
        MarkWindow();
        long started = Stopwatch.GetTimestamp();
        await using PairLauncher bystander = await PairLauncher.StartPrimaryAsync(MaxMemory, "sync", TextWriter.Null);
        TimeSpan left = ControlWindow - Stopwatch.GetElapsedTime(started);
        if (left > TimeSpan.Zero)
        {
            await Task.Delay(left, cancellationToken);
        }

        double readyMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        await bystander.Primary.KillAsync();
        return new Injected($"started a node beside the pair (control; up {readyMs,5:N0} ms)", "", 0, started, "the window's start");
    }

    /// <summary>
    /// How long a control window lasts: the last primary kill's, from the kill until reads and writes went on after
    /// protection (800 ms before the first), so that a control and a kill are measured over windows of one length.
    /// </summary>
    private TimeSpan ControlWindow { get; set; } = TimeSpan.FromMilliseconds(800);

    /// <summary>
    /// Starts the dead <paramref name="victim"/> again (same endpoints) as secondary of <paramref name="survivor"/>
    /// and waits for its caught-up line. A start that fails (the survivor does not accept it) is tried again
    /// until <see cref="HealLimit"/> after <paramref name="ended"/>; false then.
    /// </summary>
    private async Task<bool> RestartAsync(PairLauncher.ChildNode victim, PairLauncher.ChildNode survivor, long ended, List<Rejoin>? rejoins, CancellationToken cancellationToken)
    {
        while (true)
        {
            var clock = Stopwatch.StartNew();
            try
            {
                (PairLauncher.ChildNode node, Task caughtUp) = await _pair.RestartAsSecondaryAsync(victim, survivor.EndPoint, MaxMemory, output);
                TimeSpan left = HealLimit - Stopwatch.GetElapsedTime(ended);
                await caughtUp.WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                if (rejoins is not null && caughtUp.IsCompleted)
                {
                    Match copied = CopiedSlabs().Match(node.LastLineContaining("caught up"));
                    rejoins.Add(new Rejoin(clock.Elapsed.TotalMilliseconds, copied.Success ? int.Parse(copied.Groups[1].Value, CultureInfo.InvariantCulture) : 0,
                        copied.Success ? double.Parse(copied.Groups[2].Value, CultureInfo.InvariantCulture) : double.NaN));
                }

                return true;
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException)
            {
                if (Stopwatch.GetElapsedTime(ended) >= HealLimit)
                {
                    Say($"the killed node could not be restarted as secondary of {survivor.EndPoint} within {HealLimit.TotalSeconds:F0} s: {e.Message}");
                    return false;
                }

                Say($"restart as secondary of {survivor.EndPoint} failed ({e.Message}); trying again");
            }
        }
    }

    [GeneratedRegex(@"copied (\d+) slabs \(\d+ slot images\) from the primary in ([0-9.]+) ms")]
    private static partial Regex CopiedSlabs();
}
