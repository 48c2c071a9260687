namespace MirrorKv.Cli.Cluster;

/// <summary>A pair of a <see cref="LocalCluster"/>: its id, its nodes as started (primary first), and whether it is a spare (in no map at start).</summary>
internal sealed record LocalPair(string Id, LocalNode Primary, LocalNode Secondary, bool Spare)
{
    /// <summary>The pair's nodes as <c>add-pair --members</c> takes them: native@RESP, primary first.</summary>
    public string Members => $"{Primary.Address.Advertised}@{Primary.Resp},{Secondary.Address.Advertised}@{Secondary.Resp}";
}
