namespace MirrorKv.Cli.Chaos;

/// <summary>What <c>mirrorkv chaos</c> runs.</summary>
/// <param name="Cycles">Kill-and-rejoin cycles.</param>
/// <param name="Seed">Seed for the victims and the moments.</param>
/// <param name="Keys">Keys in the checked workload.</param>
/// <param name="PrimaryOnly">Kill only the primary (bench --failover measures failovers); else either node at random.</param>
internal sealed record ChaosOptions(int Cycles, int Seed, int Keys, bool PrimaryOnly = false);
