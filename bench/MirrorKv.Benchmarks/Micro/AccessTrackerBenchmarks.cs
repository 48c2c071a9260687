using BenchmarkDotNet.Attributes;
using MirrorKv.Memory;
using MirrorKv.Store;

namespace MirrorKv.Benchmarks.Micro;

/// <summary>
/// What recording a one-sided READ costs the adapter's read path under each policy (VerbsEngine calls
/// <see cref="AccessTracker.RecordRead"/> once per READ served; under noeviction there is no tracker and the
/// call is a null check): 1,024 reads per invoke over a hot set of 4,096 slots, the counters already up (LFU) or
/// the bits already set (LRU), as a steady read load finds them.
/// </summary>
public class AccessTrackerBenchmarks
{
    private const int Reads = 1024;
    private const int Slots = 4096;
    private MemoryChunks _memory = null!;
    private MemoryRegion _region = null!;
    private AccessTracker? _tracker;
    private RemotePointer[] _pointers = [];

    [Params(EvictionPolicy.NoEviction, EvictionPolicy.AllKeysLru, EvictionPolicy.AllKeysLfu)]
    public EvictionPolicy Policy { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _memory = new MemoryChunks(1 << 20);
        _region = _memory.Add(64UL << 20, AccessFlags.RemoteRead);
        _tracker = Policy == EvictionPolicy.NoEviction ? null : new AccessTracker(_memory, countsFrequency: Policy == EvictionPolicy.AllKeysLfu);
        var random = new Random(1);
        _pointers = Enumerable.Range(0, Slots).Select(_ => new RemotePointer(_region.RKey, _region.BaseAddress + ((ulong)random.Next((int)(_region.Length / 144)) * 144), 144)).ToArray();
        for (int warm = 0; warm < 200; warm++)
        {
            RecordReads();
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _memory.Dispose();

    [Benchmark(OperationsPerInvoke = Reads)]
    public void RecordReads()
    {
        AccessTracker? tracker = _tracker;
        RemotePointer[] pointers = _pointers;
        for (int i = 0; i < Reads; i++)
        {
            tracker?.RecordRead(pointers[(i * 7) & (Slots - 1)]);
        }
    }
}
