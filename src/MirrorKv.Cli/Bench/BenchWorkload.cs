namespace MirrorKv.Cli.Bench;

/// <summary>
/// The operation mix of a bench run: the YCSB core workloads A (50 % reads, 50 % updates), B (95 / 5),
/// C (reads only), and the single-operation runs get and set (set is YCSB's load phase, write-only).
/// With a pipeline, the mix is drawn per batch (a batch is all reads or all updates), so that each batch
/// still goes out in one write; at pipeline 1 that is per operation, as in YCSB.
/// </summary>
internal sealed record BenchWorkload(string Name, double ReadFraction)
{
    public static readonly string[] Names = ["get", "set", "a", "b", "c"];

    public bool HasReads => ReadFraction > 0;

    public bool HasWrites => ReadFraction < 1;

    /// <summary>True for get and set, which redis-benchmark can run as a reference.</summary>
    public bool IsSingleOperation => Name is "get" or "set";

    public static BenchWorkload Parse(string name) => name switch
    {
        "get" => new("get", 1.0),
        "set" => new("set", 0.0),
        "a" => new("a", 0.5),
        "b" => new("b", 0.95),
        "c" => new("c", 1.0),
        _ => throw new ArgumentException($"unknown workload '{name}': one of {string.Join(", ", Names)}"),
    };
}
