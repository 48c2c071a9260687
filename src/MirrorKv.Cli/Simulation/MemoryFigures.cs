namespace MirrorKv.Cli.Simulation;

/// <summary>What <see cref="PointerMemory"/> measured.</summary>
/// <param name="Keys">Keys whose pointers each client kept.</param>
/// <param name="Pairs">Pairs of the cluster client.</param>
/// <param name="ClusterBytesPerKey">Managed heap per key the cluster client grew by (its pairs' pointer tables).</param>
/// <param name="PairBytesPerKey">The same for one pair's client holding every key.</param>
/// <param name="ClusterBytesPerPair">Managed heap per pair a cluster client takes on connecting (a pair's client, its connections, an empty table).</param>
/// <param name="ClusterLookupsAgain">Keys the cluster client looked up again on a second read of every key (0: every pointer kept).</param>
/// <param name="PairLookupsAgain">The same for the pair's client.</param>
internal sealed record MemoryFigures(int Keys, int Pairs, double ClusterBytesPerKey, double PairBytesPerKey, double ClusterBytesPerPair, long ClusterLookupsAgain, long PairLookupsAgain);
