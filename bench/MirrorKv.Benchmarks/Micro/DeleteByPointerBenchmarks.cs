using BenchmarkDotNet.Attributes;
using MirrorKv.Memory;
using MirrorKv.Store;

namespace MirrorKv.Benchmarks.Micro;

/// <summary>
/// A delete of one of a million keys, visited in random order, and the write that puts it back (so that the
/// store stays full): the delete through the index (the probe reads keys from the region), and at the caller's
/// pointer (the slot checked, its index entry found by the slot). The write is the same in both.
/// </summary>
[MemoryDiagnoser]
public class DeleteByPointerBenchmarks
{
    private const int Keys = 1_000_000;
    private StoreEngine _store = null!;
    private byte[][] _keys = [];
    private RemotePointer[] _pointers = [];
    private byte[] _value = [];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _store = new StoreEngine(StoreOptions.Default with { MaxMemory = 256UL << 20 });
        _value = BenchData.Value(100, 3);
        var order = Enumerable.Range(0, Keys).ToArray();
        new Random(5).Shuffle(order);
        _keys = new byte[Keys][];
        _pointers = new RemotePointer[Keys];
        foreach (int i in Enumerable.Range(0, Keys))
        {
            _store.Write(BenchData.Key(i), _value);
        }

        for (int i = 0; i < Keys; i++)
        {
            _keys[i] = BenchData.Key(order[i]);
            _store.TryLookup(_keys[i], out _pointers[i], out _);
        }
    }

    private int Next() => _next = _next == Keys - 1 ? 0 : _next + 1;

    [GlobalCleanup]
    public void Cleanup() => _store.Dispose();

    [Benchmark(Baseline = true)]
    public WriteKind ThroughTheIndex()
    {
        int i = Next();
        _store.Delete(_keys[i]);
        StoreWriteResult back = _store.Write(_keys[i], _value);
        _pointers[i] = back.Pointer;
        return back.Kind;
    }

    [Benchmark]
    public WriteKind AtThePointer()
    {
        int i = Next();
        _store.Delete(_keys[i], _pointers[i]);
        StoreWriteResult back = _store.Write(_keys[i], _value);
        _pointers[i] = back.Pointer;
        return back.Kind;
    }
}
