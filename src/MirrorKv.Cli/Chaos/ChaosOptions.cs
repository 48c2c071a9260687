namespace MirrorKv.Cli.Chaos;

/// <summary>What <c>mirrorkv chaos</c> runs.</summary>
/// <param name="Cycles">Kill-and-rejoin cycles.</param>
/// <param name="Seed">Seed for the victims and the moments.</param>
/// <param name="Keys">Keys in the checked workload.</param>
internal sealed record ChaosOptions(int Cycles, int Seed, int Keys);
