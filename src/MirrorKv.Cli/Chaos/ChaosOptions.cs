namespace MirrorKv.Cli.Chaos;

/// <summary>What <c>mirrorkv chaos</c> runs.</summary>
/// <param name="Cycles">Fault-and-heal cycles.</param>
/// <param name="Seed">Seed for the faults, the victims, the durations and the moments.</param>
/// <param name="Keys">Keys in the checked workload.</param>
/// <param name="PrimaryOnly">Kill only the primary (bench --failover measures failovers); else either node at random.</param>
internal sealed record ChaosOptions(int Cycles, int Seed, int Keys, bool PrimaryOnly = false)
{
    /// <summary>The fault kinds the cycles draw from; kill alone unless given.</summary>
    public IReadOnlyList<ChaosFault> Faults { get; init; } = [ChaosFault.Kill];

    /// <summary>
    /// After each fault's cycle, one cycle of each control (<see cref="ChaosFault.Idle"/>, <see cref="ChaosFault.NodeStart"/>,
    /// in seeded order): windows of the same length without the fault, whose read stalls are the machine's floor for
    /// the fault's (bench --failover and --freeze).
    /// </summary>
    public bool Controls { get; init; }

    /// <summary>A fixed pause length for pause faults (bench --freeze: 2 s), instead of a seeded 1.5-3 s.</summary>
    public int? PauseMs { get; init; }

    /// <summary>A directory for every line each node prints (node-PORT.log), or null to keep only failures.</summary>
    public string? NodeLogs { get; init; }

    /// <summary>
    /// The witness: null for pair mode (the nodes decide alone), <see cref="LocalCoordinator"/> for an etcd
    /// that the run starts itself, else etcd client URLs (comma-separated) that the nodes get as
    /// <c>--coordinator</c>.
    /// </summary>
    public string? Coordinator { get; init; }

    /// <summary><c>chaos --coordinator</c> with no URLs, or with this word: the run starts its own etcd.</summary>
    public const string LocalCoordinator = "local";

    /// <summary>
    /// Pairs of a cluster (<c>chaos --cluster N</c>): each cycle moves slots and kills a primary while the move runs
    /// (<see cref="ClusterChaosRunner"/>); null for one pair.
    /// </summary>
    public int? ClusterPairs { get; init; }

    /// <summary>
    /// The nodes' <c>--eviction</c> policy (allkeys-lru or allkeys-lfu), or null for noeviction. With one, the nodes
    /// get <see cref="EvictionMaxMemory"/> and the workload values of <see cref="EvictionValueSize"/> bytes (three
    /// times that every other write), so that the keys do not fit and the nodes evict all along; a read may then miss.
    /// </summary>
    public string? Eviction { get; init; }

    /// <summary>Each node's --max-memory under <see cref="Eviction"/>.</summary>
    public const string EvictionMaxMemory = "8m";

    /// <summary>The workload's value size under <see cref="Eviction"/> (5,000 keys: about 20 MB of values against 8 MiB).</summary>
    public const int EvictionValueSize = 2000;

    /// <summary>"pair", "coordinator" or "cluster", as the summary and the JSON say it.</summary>
    public string Mode => ClusterPairs is not null ? "cluster" : Coordinator is null ? "pair" : "coordinator";

    /// <summary>
    /// Whether the nodes sit behind relays of this process (needed to cut the peer link). Only then: a relay
    /// adds a hop to every request, so a run without cut-link measures the pair as before.
    /// </summary>
    public bool Relayed => Faults.Contains(ChaosFault.CutLink);
}
