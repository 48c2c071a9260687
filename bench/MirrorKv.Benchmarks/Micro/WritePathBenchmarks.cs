using BenchmarkDotNet.Attributes;
using MirrorKv.Store;

namespace MirrorKv.Benchmarks.Micro;

/// <summary>
/// The engine's write path where it allocates and frees slots, over 100,000 keys in random order: a new key
/// written then deleted (one slot taken and given back), and a key whose value alternates between 100 B and
/// 1,000 B (a relocation: a slot of one class taken, one of another freed). What slab rebalancing changed is
/// how a slot is taken and given back, so these are its before/after figures.
/// </summary>
[MemoryDiagnoser]
public class WritePathBenchmarks
{
    private const int Keys = 100_000;
    private StoreEngine _store = null!;
    private byte[][] _keys = [];
    private byte[] _small = [];
    private byte[] _large = [];
    private int _next;
    private int _relocated;
    private bool _grow;

    [GlobalSetup]
    public void Setup()
    {
        _store = new StoreEngine(StoreOptions.Default with { MaxMemory = 256UL << 20 });
        _small = BenchData.Value(100, 3);
        _large = BenchData.Value(1000, 4);
        var order = Enumerable.Range(0, Keys).ToArray();
        new Random(5).Shuffle(order);
        _keys = [.. order.Select(BenchData.Key)];

        // Half the keys live, so that frees land in slabs that also hold entries, as on a server.
        for (int i = 0; i < Keys; i += 2)
        {
            _store.Write(_keys[i], _small);
        }
    }

    private int Next() => _next = _next == Keys - 1 ? 0 : _next + 1;

    [GlobalCleanup]
    public void Cleanup() => _store.Dispose();

    [Benchmark]
    public WriteKind InsertThenDelete()
    {
        byte[] key = _keys[(Next() | 1) % Keys];
        _store.Write(key, _small);
        return _store.Delete(key).Kind;
    }

    [Benchmark]
    public WriteKind Relocate()
    {
        // Every live key once per pass, each pass in the other size: every write relocates.
        _relocated = (_relocated + 2) % Keys;
        if (_relocated == 0)
        {
            _grow = !_grow;
        }

        return _store.Write(_keys[_relocated], _grow ? _large : _small).Kind;
    }
}
