using BenchmarkDotNet.Attributes;
using MirrorKv.Store;

namespace MirrorKv.Benchmarks.Micro;

/// <summary>
/// The engine's in-place update of one of a million keys, visited in random order (the index probe is a
/// cache miss, as on a server): through the index, and at the caller's pointer (update by remote pointer).
/// </summary>
[MemoryDiagnoser]
public class UpdateByPointerBenchmarks : KeyPointerBenchmarks
{
    [Benchmark(Baseline = true)]
    public WriteKind ThroughTheIndex() => Store.Write(KeysInOrder[Next()], Value).Kind;

    [Benchmark]
    public WriteKind AtThePointer()
    {
        int i = Next();
        return Store.Write(KeysInOrder[i], Value, Pointers[i]).Kind;
    }
}
