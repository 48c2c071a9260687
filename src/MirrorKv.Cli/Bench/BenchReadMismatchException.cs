namespace MirrorKv.Cli.Bench;

/// <summary>
/// A bench read found a key it wrote missing, or holding a value of another size: the node evicted it (its store is
/// smaller than the bench's keys under an evicting policy) or someone else wrote it meanwhile. The bench stops with
/// a message that says which, instead of measuring reads that are not the ones it means to.
/// </summary>
internal sealed class BenchReadMismatchException(string key, int? bytes, int expected)
    : InvalidOperationException(bytes is null
        ? $"the bench wrote {key} and reading it found nothing: the node evicted it (its --eviction policy, with a --max-memory smaller than --keys x --value-size) or another client deleted it; use fewer --keys or a smaller --value-size, or a node with a larger --max-memory"
        : $"the bench wrote {key} with {expected:N0} B and reading it found {bytes:N0} B: another client wrote it meanwhile; bench keys of its own (no other writer), or another node")
{
    public string Key { get; } = key;
}
