namespace MirrorKv.Adapter;

/// <summary>A node started as primary found another node leading the pair in etcd: it should join that one.</summary>
internal sealed class LeaderElsewhereException(LeaderRecord leader)
    : InvalidOperationException($"etcd names {leader} as the pair's primary")
{
    public LeaderRecord Leader { get; } = leader;
}
