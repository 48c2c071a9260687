using System.Net;

namespace MirrorKv.Cli.Bench;

/// <summary>What <c>mirrorkv bench</c> runs.</summary>
/// <param name="Primary">The primary of a running pair, or null to start a pair as child processes.</param>
/// <param name="Workload">The operation mix: get, set, or YCSB a, b, c.</param>
/// <param name="Distribution">How keys are chosen: uniform or zipfian.</param>
/// <param name="Keys">Distinct keys (16 bytes each).</param>
/// <param name="ValueSize">Bytes per value.</param>
/// <param name="Connections">Client connections, each with its own pointer table.</param>
/// <param name="Pipeline">Requests each connection keeps in flight, sent in one write.</param>
/// <param name="Duration">How long to measure.</param>
/// <param name="Warmup">How long to run before measuring (JIT, pointer tables, caches).</param>
/// <param name="Replication">sync or async, for a pair the bench starts.</param>
internal sealed record BenchOptions(IPEndPoint? Primary, BenchWorkload Workload, string Distribution, int Keys, int ValueSize, int Connections, int Pipeline, TimeSpan Duration, TimeSpan Warmup, string Replication)
{
    /// <summary>The single operation of a get or set run (redis-benchmark's -t).</summary>
    public string Operation => Workload.IsSingleOperation ? Workload.Name : "mixed";
}
