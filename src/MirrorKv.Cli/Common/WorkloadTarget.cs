using System.Buffers;
using MirrorKv.Client;

namespace MirrorKv.Cli;

/// <summary>The clients a <see cref="Workload"/> runs over.</summary>
internal static class WorkloadTarget
{
    /// <summary>A pair's client.</summary>
    public static IWorkloadTarget Of(MirrorKvClient client) => new PairTarget(client);

    /// <summary>A cluster's client: each key at the pair that owns its slot.</summary>
    public static IWorkloadTarget Of(MirrorKvClusterClient client) => new ClusterTarget(client);

    private sealed class PairTarget(MirrorKvClient client) : IWorkloadTarget
    {
        public ValueTask<bool> TryGetAsync(string key, IBufferWriter<byte> destination, CancellationToken cancellationToken) => client.TryGetAsync(key, destination, cancellationToken);

        public ValueTask SetAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken) => client.SetAsync(key, value, cancellationToken);
    }

    private sealed class ClusterTarget(MirrorKvClusterClient client) : IWorkloadTarget
    {
        public ValueTask<bool> TryGetAsync(string key, IBufferWriter<byte> destination, CancellationToken cancellationToken) => client.TryGetAsync(key, destination, cancellationToken);

        public ValueTask SetAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken) => client.SetAsync(key, value, cancellationToken);
    }
}
