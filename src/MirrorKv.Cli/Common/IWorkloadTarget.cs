using System.Buffers;

namespace MirrorKv.Cli;

/// <summary>What the checked <see cref="Workload"/> reads and writes through: a pair's client or a cluster's (<see cref="WorkloadTarget"/>).</summary>
internal interface IWorkloadTarget
{
    /// <summary>The key's value into <paramref name="destination"/>; false when it is absent.</summary>
    ValueTask<bool> TryGetAsync(string key, IBufferWriter<byte> destination, CancellationToken cancellationToken);

    ValueTask SetAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken);
}
