using System.Text.Json;

namespace MirrorKv.Cli.Chaos;

/// <summary>
/// What a chaos run measured: stalls after each primary kill and rejoin times (as bench --failover reports
/// them), every cycle with its fault, and the checks.
/// </summary>
/// <param name="Cycles">Cycles asked for.</param>
/// <param name="ReadStallsMs">Per primary kill: the exit to a good read again.</param>
/// <param name="WriteStallsMs">Per primary kill: the exit to an acknowledged write again.</param>
/// <param name="RejoinsMs">Per kill: restart of the killed process to its caught-up line.</param>
/// <param name="AcknowledgedWrites">Writes the workload got acknowledged.</param>
/// <param name="WritesLost">Acknowledged writes not found at the end; null when they could not be checked (no node served).</param>
/// <param name="BadReads">Reads that returned a value they should not have.</param>
internal sealed record ChaosResult(int Cycles, IReadOnlyList<double> ReadStallsMs, IReadOnlyList<double> WriteStallsMs, IReadOnlyList<double> RejoinsMs, long AcknowledgedWrites, int? WritesLost, long BadReads)
{
    // Plain text for the variants ("primary->secondary"), not \u003E: a CLI's output, never embedded in HTML.
    private static readonly JsonSerializerOptions JsonOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>"pair" (the nodes decide alone) or "coordinator" (etcd is the witness).</summary>
    public string Mode { get; init; } = "pair";

    /// <summary>The cycles run, in order (fewer than asked when the pair did not heal).</summary>
    public IReadOnlyList<ChaosCycle> CycleRecords { get; init; } = [];

    public long Reads { get; init; }

    public long FailedReads { get; init; }

    /// <summary>Reads that found no value while the nodes evicted (chaos --eviction); 0 without.</summary>
    public long Misses { get; init; }

    /// <summary>Keys absent at the final check, evicted (chaos --eviction); null without eviction.</summary>
    public int? MissingAtEnd { get; init; }

    public long FailedWrites { get; init; }

    /// <summary>STATUS samples of both nodes taken during the run.</summary>
    public long StatusSamples { get; init; }

    /// <summary>Samples in which both nodes said role primary with a lease left, confirmed by a second sample at once.</summary>
    public long TwoPrimarySamples { get; init; }

    /// <summary>Samples with two primaries that the second sample did not confirm (a node died between the answers).</summary>
    public long UnconfirmedTwoPrimarySamples { get; init; }

    /// <summary>
    /// bench --failover and --freeze, after the run with the nodes stopped: per window as long as the faults', the longest
    /// 1 ms sleep of an idle thread (<see cref="SleepProbe"/>); empty when not measured.
    /// </summary>
    public IReadOnlyList<double> MachineAloneSleepMs { get; init; } = [];

    public int NotHealed => CycleRecords.Count(c => !c.Healed);

    /// <summary>The linearizability check of the run's histories (per key, per cycle window); null when none was made.</summary>
    public MirrorKv.Linearizability.CheckReport? Linearizability { get; init; }

    /// <summary>p50, p99 and max of <paramref name="values"/> (nearest rank), or nulls when empty.</summary>
    public static (double? P50, double? P99, double? Max) Percentiles(IReadOnlyList<double> values)
    {
        if (values.Count == 0)
        {
            return (null, null, null);
        }

        double[] sorted = [.. values.Order()];
        double At(double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p / 100 * sorted.Length) - 1)];
        return (At(50), At(99), sorted[^1]);
    }

    /// <summary>The cycles grouped by fault kind, in the order of <see cref="ChaosFault"/>.</summary>
    public IEnumerable<IGrouping<ChaosFault, ChaosCycle>> ByFault() => CycleRecords.GroupBy(c => c.Fault).OrderBy(g => g.Key);

    /// <summary>
    /// One JSON object on one line, snake_case: the totals, the checks, and per fault kind (and per variant:
    /// victim of a kill, direction of a cut) the read and write stall and the time until protected again,
    /// over the cycles that healed (a stall that had not ended is no figure).
    /// <paramref name="cyclesName"/> names the cycle count (bench --failover says "failover_kills").
    /// </summary>
    public string ToJson(string cyclesName = "cycles")
    {
        var root = new Dictionary<string, object?>
        {
            ["mode"] = Mode,
            [cyclesName] = Cycles,
            ["cycles_run"] = CycleRecords.Count,
            ["read_stall_ms"] = Stats(ReadStallsMs),
            ["write_stall_ms"] = Stats(WriteStallsMs),
            ["rejoin_ms"] = Stats(RejoinsMs),
            ["acknowledged_writes"] = AcknowledgedWrites,
            ["writes_lost"] = WritesLost,
            ["reads"] = Reads,
            ["bad_reads"] = BadReads,
            ["reads_failed"] = FailedReads,
            ["reads_missed"] = Misses,
            ["missing_at_end"] = MissingAtEnd,
            ["writes_failed"] = FailedWrites,
            ["status_samples"] = StatusSamples,
            ["two_primary_samples"] = TwoPrimarySamples,
            ["two_primary_unconfirmed"] = UnconfirmedTwoPrimarySamples,
            ["not_healed"] = NotHealed,
            ["histories_checked"] = Linearizability?.Keys,
            ["history_operations"] = Linearizability?.Operations,
            ["linearizability_violations"] = Linearizability?.Violations,
            ["linearizability_undecided"] = Linearizability?.Undecided,
            ["machine_alone_sleep_ms"] = MachineAloneSleepMs.Count > 0 ? Stats(MachineAloneSleepMs) : null,
            ["faults"] = ByFault().Select(kind => new Dictionary<string, object?>(Figures(kind))
            {
                ["fault"] = ChaosFaults.Name(kind.Key),
                ["variants"] = kind.GroupBy(c => c.Variant).Where(v => v.Key.Length > 0).OrderBy(v => v.Key, StringComparer.Ordinal)
                    .Select(v => new Dictionary<string, object?>(Figures(v)) { ["variant"] = v.Key }).ToArray(),
            }).ToArray(),
        };
        return JsonSerializer.Serialize(root, JsonOptions);
    }

    private static Dictionary<string, object?> Figures(IEnumerable<ChaosCycle> cycles)
    {
        List<ChaosCycle> list = [.. cycles];
        return new Dictionary<string, object?>
        {
            ["cycles"] = list.Count,
            ["not_healed"] = list.Count(c => !c.Healed),
            ["failovers"] = list.Count(c => c.Failover),
            ["read_stall_ms"] = Stats([.. list.Where(c => c.Healed).Select(c => c.ReadStallMs)]),
            ["write_stall_ms"] = Stats([.. list.Where(c => c.Healed).Select(c => c.WriteStallMs)]),
            ["protected_ms"] = Stats([.. list.Where(c => c.Healed).Select(c => c.ProtectedMs!.Value)]),
            ["sleep_probe_ms"] = list.Any(c => c.SleepMs is not null) ? Stats([.. list.Where(c => c.Healed && c.SleepMs is not null).Select(c => c.SleepMs!.Value)]) : null,
        };
    }

    private static Dictionary<string, double?> Stats(IReadOnlyList<double> values)
    {
        (double? p50, double? p99, double? max) = Percentiles(values);
        return new() { ["p50"] = Round(p50), ["p99"] = Round(p99), ["max"] = Round(max) };
    }

    private static double? Round(double? value) => value is { } v ? Math.Round(v, 2) : null;
}
