using System.Globalization;

namespace MirrorKv.Cli.Chaos;

/// <summary>The summary at the end of a run: the checks, then the figures per fault kind.</summary>
internal sealed partial class ChaosRunner
{
    private void PrintSummary(ChaosResult result, List<Rejoin> rejoins)
    {
        IReadOnlyList<ChaosCycle> cycles = result.CycleRecords;
        Say("");
        Say("summary");
        Say($"  mode                  {result.Mode,12} ({(result.Mode == "pair" ? "the nodes decide roles alone" : "etcd is the witness: serve --coordinator")})");
        Say($"  cycles                {cycles.Count,12:N0} ({CycleCounts(cycles)})");
        Say($"  acknowledged writes   {result.AcknowledgedWrites,12:N0}");
        Say($"  writes lost           {(result.WritesLost is { } lost ? lost.ToString("N0", CultureInfo.InvariantCulture) : "not checked"),12}{(result.WritesLost is null ? " (no node served at the end)" : "")}");
        Say($"  reads checked         {result.Reads,12:N0}");
        Say($"  bad reads             {result.BadReads,12:N0}");
        Say($"  reads failed          {result.FailedReads,12:N0} (an error instead of a value)");
        if (result.MissingAtEnd is { } missing)
        {
            Say($"  reads missed          {result.Misses,12:N0} (no value: the key was evicted; allowed under --eviction)");
            Say($"  evicted at the end    {missing,12:N0} of {_workload.Keys:N0} keys absent at the final check (the others hold their acknowledged value or a newer one)");
        }

        Say($"  writes failed         {result.FailedWrites,12:N0} (not acknowledged: Unavailable, or refused by a fenced node)");
        Say($"  two primaries         {result.TwoPrimarySamples,12:N0} of {result.StatusSamples:N0} STATUS samples (both nodes primary with a lease left, confirmed by asking again at once"
            + (result.UnconfirmedTwoPrimarySamples > 0 ? $"; {result.UnconfirmedTwoPrimarySamples:N0} more not confirmed: a node died between the answers)" : ")"));
        Say($"  not healed            {result.NotHealed,12:N0}");
        if (result.Linearizability is { } check)
        {
            Say($"  histories checked     {check.Keys,12:N0} (one per key and cycle window; {check.Operations:N0} operations)");
            Say($"  not linearizable      {check.Violations,12:N0}{(check.Undecided > 0 ? $" ({check.Undecided:N0} more undecided: the search ran out of its budget)" : "")}");
            if (check.FirstViolation is { } first)
            {
                Say("  first violation, minimized: " + first.ToText());
            }
        }
        if (result.ReadStallsMs.Count > 0)
        {
            Say($"  read stall            {Percentiles(result.ReadStallsMs)} (primary kills and pauses: the fault to a good read again)");
            Say($"  write stall           {Percentiles(result.WriteStallsMs)} (primary kills and pauses: the fault to an acknowledged write again)");
        }

        if (rejoins.Count > 0)
        {
            double gib = rejoins.Sum(r => (double)r.Slabs) / 1024;
            double copySeconds = rejoins.Sum(r => r.CopyMs) / 1000;
            Say($"  rejoin                {Percentiles([.. rejoins.Select(r => r.Ms)])} (restart of a killed process to caught up, process start included)");
            Say($"  slab copy             {rejoins.Average(r => r.Slabs),12:F1} slabs of 1 MiB per rejoin on average, {(gib > 0 ? copySeconds / gib : double.NaN):F2} s per GiB of claimed slabs");
        }

        Say("");
        Say("per fault, in ms, over the cycles that healed: stalls from the fault's start, protected again from its end (SIGKILL, SIGCONT, link restored)");
        Say($"  {"fault",-32} {"cycles",6}   {"read stall p50",14} {"p99",7}   {"write stall p50",15} {"p99",7}   {"protected p50",13} {"p99",7}   not healed   failovers");
        foreach (IGrouping<ChaosFault, ChaosCycle> kind in result.ByFault())
        {
            Say(Row(ChaosFaults.Name(kind.Key), [.. kind]));
            List<IGrouping<string, ChaosCycle>> variants = [.. kind.GroupBy(c => c.Variant).Where(v => v.Key.Length > 0).OrderBy(v => v.Key, StringComparer.Ordinal)];
            foreach (IGrouping<string, ChaosCycle> variant in variants.Count > 1 ? variants : [])
            {
                Say(Row("  " + variant.Key, [.. variant]));
            }
        }

        if (cycles.Any(c => ChaosFaults.IsControl(c.Fault)))
        {
            Say("  (idle and node-start are controls, no fault: windows as long as the last primary fault's, with nothing done (idle) or a");
            Say("   node process started beside the pair (node-start); their read stall is the longest gap between good reads the machine");
            Say("   gives without a failover: the floor under the faults' figures. Their \"protected\" is the window's length.)");
        }

        if (cycles.Any(c => c.SleepMs is not null))
        {
            Say("");
            Say("the machine in the same windows, in ms: the longest 1 ms sleep of a thread of this process that does nothing else");
            Say($"  {"fault",-32} {"cycles",6}   {"longest sleep p50",17} {"p99",7}   {"read stall p99",14}");
            foreach (IGrouping<ChaosFault, ChaosCycle> kind in result.ByFault())
            {
                List<ChaosCycle> healed = [.. kind.Where(c => c.Healed && c.SleepMs is not null)];
                (double? p50, double? p99, _) = ChaosResult.Percentiles([.. healed.Select(c => c.SleepMs!.Value)]);
                (_, double? readP99, _) = ChaosResult.Percentiles([.. healed.Select(c => c.ReadStallMs)]);
                Say($"  {ChaosFaults.Name(kind.Key),-32} {healed.Count,6}   {Cell(p50, 17)} {Cell(p99, 7)}   {Cell(readP99, 14)}");
            }
        }
    }

    private string CycleCounts(IReadOnlyList<ChaosCycle> cycles)
    {
        var parts = new List<string>();
        if (options.Faults.Contains(ChaosFault.Kill))
        {
            parts.Add($"{cycles.Count(c => c is { Fault: ChaosFault.Kill, Variant: "primary" })} primary kills");
            parts.Add($"{cycles.Count(c => c is { Fault: ChaosFault.Kill, Variant: "secondary" })} secondary kills");
        }

        foreach (ChaosFault fault in options.Faults.Where(f => f != ChaosFault.Kill))
        {
            parts.Add($"{cycles.Count(c => c.Fault == fault)} {ChaosFaults.Name(fault)}");
        }

        if (options.Controls)
        {
            parts.Add($"and {cycles.Count(c => c.Fault == ChaosFault.Idle)} idle and {cycles.Count(c => c.Fault == ChaosFault.NodeStart)} node-start controls");
        }

        return string.Join(", ", parts);
    }

    private static string Cell(double? value, int width) => (value is { } v ? v.ToString("F1", CultureInfo.InvariantCulture) : "n/a").PadLeft(width);

    private static string Row(string label, List<ChaosCycle> cycles)
    {
        List<ChaosCycle> healed = [.. cycles.Where(c => c.Healed)];
        (double? readP50, double? readP99, _) = ChaosResult.Percentiles([.. healed.Select(c => c.ReadStallMs)]);
        (double? writeP50, double? writeP99, _) = ChaosResult.Percentiles([.. healed.Select(c => c.WriteStallMs)]);
        (double? healP50, double? healP99, _) = ChaosResult.Percentiles([.. healed.Select(c => c.ProtectedMs!.Value)]);
        return $"  {label,-32} {cycles.Count,6}   {Cell(readP50, 14)} {Cell(readP99, 7)}   {Cell(writeP50, 15)} {Cell(writeP99, 7)}   {Cell(healP50, 13)} {Cell(healP99, 7)}   {cycles.Count(c => !c.Healed),10}   {cycles.Count(c => c.Failover),9}";
    }

    private static string Percentiles(IReadOnlyList<double> values)
    {
        (double? p50, double? p99, double? max) = ChaosResult.Percentiles(values);
        return p50 is null ? "n/a" : $"p50 {p50,7:F1} ms, p99 {p99,7:F1} ms, max {max,7:F1} ms";
    }
}
