using BenchmarkDotNet.Attributes;
using MirrorKv.Memory;
using MirrorKv.Store;

namespace MirrorKv.Benchmarks.Micro;

/// <summary>
/// A store of a million keys of 100 B, visited in shuffled order (an index probe is a cache miss, as on a server),
/// with each key's pointer as a client would cache it: what the by-pointer benchmarks share.
/// </summary>
public abstract class KeyPointerBenchmarks
{
    private const int Keys = 1_000_000;
    private int _next;

    protected StoreEngine Store { get; private set; } = null!;

    protected byte[][] KeysInOrder { get; private set; } = [];

    protected RemotePointer[] Pointers { get; private set; } = [];

    protected byte[] Value { get; private set; } = [];

    [GlobalSetup]
    public void Setup()
    {
        Store = new StoreEngine(StoreOptions.Default with { MaxMemory = 256UL << 20 });
        Value = BenchData.Value(100, 3);
        var order = Enumerable.Range(0, Keys).ToArray();
        new Random(5).Shuffle(order);
        KeysInOrder = new byte[Keys][];
        Pointers = new RemotePointer[Keys];
        foreach (int i in Enumerable.Range(0, Keys))
        {
            Store.Write(BenchData.Key(i), Value);
        }

        for (int i = 0; i < Keys; i++)
        {
            KeysInOrder[i] = BenchData.Key(order[i]);
            Store.TryLookup(KeysInOrder[i], out Pointers[i], out _);
        }
    }

    [GlobalCleanup]
    public void Cleanup() => Store.Dispose();

    protected int Next() => _next = _next == Keys - 1 ? 0 : _next + 1;
}
