namespace MirrorKv.Cli;

/// <summary>What the checked <see cref="Workload"/> reads and writes through: a pair's client or a cluster's (<see cref="WorkloadTarget"/>).</summary>
internal interface IWorkloadTarget
{
    ValueTask<byte[]?> GetAsync(string key, CancellationToken cancellationToken);

    ValueTask SetAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken);
}
