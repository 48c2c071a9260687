namespace MirrorKv.Cli.Bench;

/// <summary>One measured row.</summary>
internal sealed record BenchResult(string Target, string Operation, int ValueSize, int Connections, int Pipeline, long Operations, double Seconds, double P50Micros, double P99Micros, double P999Micros, double MaxMicros, double AllocatedBytesPerOp)
{
    public double OpsPerSecond => Operations / Seconds;

    public override string ToString() =>
        $"{Target,-8} {Operation,-4} {ValueSize,6} B  c={Connections} P={Pipeline,-3} {OpsPerSecond,12:N0} ops/s   p50 {P50Micros,8:F1} µs   p99 {P99Micros,8:F1} µs   p99.9 {P999Micros,8:F1} µs   max {MaxMicros,9:F1} µs   client alloc {AllocatedBytesPerOp,6:F1} B/op";
}
