using BenchmarkDotNet.Attributes;
using MirrorKv.Memory;

namespace MirrorKv.Benchmarks.Micro;

/// <summary>Translating a primary pointer at the secondary (FAILOVER_READ's extra work over a READ).</summary>
[MemoryDiagnoser]
public class TranslateBenchmarks
{
    private const int SlabSize = 1 << 20;
    private const int Slabs = 1024;
    private const ulong PrimaryBase = 0x7f00_0000_0000;
    private const ulong LocalBase = 0x7e00_0000_0000;
    private TranslationSnapshot _snapshot = null!;
    private RemotePointer[] _pointers = [];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        var table = new TranslationTable(SlabSize);
        table.MapRegion(0x1234, PrimaryBase, (ulong)Slabs * SlabSize, 0x5678);
        for (int i = 0; i < Slabs; i++)
        {
            table.MapSlab(0x1234, PrimaryBase + ((ulong)i * SlabSize), LocalBase + ((ulong)(Slabs - 1 - i) * SlabSize));
        }

        _snapshot = table.Current;
        var random = new Random(9);
        _pointers = new RemotePointer[4096];
        for (int i = 0; i < _pointers.Length; i++)
        {
            _pointers[i] = new RemotePointer(0x1234, PrimaryBase + ((ulong)random.Next(Slabs) * SlabSize) + ((ulong)random.Next(SlabSize / 144) * 144), 144);
        }
    }

    [Benchmark]
    public ulong Translate()
    {
        _snapshot.TryTranslate(_pointers[_next++ & (4096 - 1)], out RemotePointer local);
        return local.Address;
    }
}
