using BenchmarkDotNet.Attributes;
using MirrorKv.Memory;
using MirrorKv.Store;

namespace MirrorKv.Benchmarks.Micro;

/// <summary>Key index lookups over a million keys, hit and miss, and the engine's LOOKUP (lock included).</summary>
[MemoryDiagnoser]
public class IndexBenchmarks
{
    private const int Keys = 1_000_000;
    private StoreEngine _store = null!;
    private KeyIndex _index = null!;
    private byte[][] _keys = [];
    private ulong[] _hashes = [];
    private byte[] _missing = [];
    private ulong _missingHash;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _store = new StoreEngine(StoreOptions.Default with { MaxMemory = 256UL << 20 });
        _index = new KeyIndex(_store.Memory, 1024);
        _keys = new byte[Keys][];
        _hashes = new ulong[Keys];
        byte[] value = BenchData.Value(100, 3);
        for (int i = 0; i < Keys; i++)
        {
            _keys[i] = BenchData.Key(i);
            _hashes[i] = KeyIndex.Hash(_keys[i]);
            StoreWriteResult w = _store.Write(_keys[i], value);
            _store.Memory.TryGetOffset(w.Pointer.RKey, w.Pointer.Address, out ulong offset);
            _index.Set(_keys[i], _hashes[i], offset);
        }

        // Visit keys in a shuffled order so that the benchmark pays the cache misses a server would.
        new Random(5).Shuffle(_keys);
        for (int i = 0; i < Keys; i++)
        {
            _hashes[i] = KeyIndex.Hash(_keys[i]);
        }

        _missing = BenchData.Key(Keys + 1);
        _missingHash = KeyIndex.Hash(_missing);
    }

    private int Next() => _next = _next == Keys - 1 ? 0 : _next + 1;

    [GlobalCleanup]
    public void Cleanup() => _store.Dispose();

    [Benchmark]
    public bool IndexLookupHit()
    {
        int i = Next();
        return _index.TryGet(_keys[i], _hashes[i], out _);
    }

    [Benchmark]
    public bool IndexLookupMiss() => _index.TryGet(_missing, _missingHash, out _);

    [Benchmark]
    public bool StoreLookup()
    {
        int i = Next();
        return _store.TryLookup(_keys[i], out RemotePointer _, out _);
    }
}
