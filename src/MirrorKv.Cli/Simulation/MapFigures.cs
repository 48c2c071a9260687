namespace MirrorKv.Cli.Simulation;

/// <summary>The size of an evenly split map of <paramref name="Pairs"/> pairs, and what reading it costs a node.</summary>
/// <param name="Pairs">Pairs in the map.</param>
/// <param name="WireBytes">CLUSTER_MAP's reply (the encoding clients fetch), as a node encodes it.</param>
/// <param name="JsonBytes">The map key's value in etcd (JSON), read back from etcd.</param>
/// <param name="PrefixKeys">Keys under the cluster's prefix (the map and three per pair).</param>
/// <param name="PrefixReadBytes">The JSON gateway's answer to one read of the whole prefix: what a node reads on every change.</param>
/// <param name="ReadMs">Median time of one node's read of the prefix (<c>ClusterDirectory.ReadAsync</c>: request, parse, map built), on a quiet etcd.</param>
/// <param name="Json">The map's JSON as etcd holds it.</param>
/// <param name="Wire">The map's CLUSTER_MAP reply.</param>
internal sealed record MapFigures(int Pairs, int WireBytes, int JsonBytes, int PrefixKeys, long PrefixReadBytes, double ReadMs, byte[] Json, byte[] Wire);
