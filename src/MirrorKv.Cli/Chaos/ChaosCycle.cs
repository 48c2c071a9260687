namespace MirrorKv.Cli.Chaos;

/// <summary>What one chaos cycle did and measured.</summary>
/// <param name="Number">1-based.</param>
/// <param name="Fault">The fault kind.</param>
/// <param name="Variant">Which way it went: the victim of a kill ("primary", "secondary"), the direction of a cut ("both ways", "primary->secondary", "secondary->primary"); empty otherwise.</param>
/// <param name="FaultMs">How long the fault lasted: the pause, the cut, the silence before the kill; 0 for a kill.</param>
/// <param name="ReadStallMs">The longer of: the fault to the first good read started after it; the longest time without a good read completing between the fault and protection (for a cycle that did not heal: until it was given up, a lower bound).</param>
/// <param name="WriteStallMs">The same for acknowledged writes.</param>
/// <param name="ProtectedMs">The fault's end (SIGKILL, SIGCONT, link restored) to the first STATUS sample with a protected primary and a protected secondary; null when that did not come within the limit.</param>
/// <param name="Failover">The pair was protected again with the other node as primary: it took over. (A primary that stays, under a newer epoch or not, is no failover.)</param>
/// <param name="SleepMs">Over the same window, the longest 1 ms sleep of a thread that does nothing else (<see cref="SleepProbe"/>): the machine's floor under the read stall; null when not measured.</param>
internal sealed record ChaosCycle(int Number, ChaosFault Fault, string Variant, double FaultMs, double ReadStallMs, double WriteStallMs, double? ProtectedMs, bool Failover = false, double? SleepMs = null)
{
    public bool Healed => ProtectedMs is not null;

    /// <summary>"kill (primary)", "cut-link (both ways)", "pause-secondary".</summary>
    public string Label => Variant.Length == 0 ? ChaosFaults.Name(Fault) : $"{ChaosFaults.Name(Fault)} ({Variant})";
}
