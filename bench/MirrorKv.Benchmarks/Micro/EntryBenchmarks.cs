using BenchmarkDotNet.Attributes;
using MirrorKv.Entries;
using MirrorKv.Store;

namespace MirrorKv.Benchmarks.Micro;

/// <summary>The per-entry work of a write (encode under the seqlock) and of a one-sided read (validate the copy).</summary>
[MemoryDiagnoser]
public class EntryBenchmarks
{
    private byte[] _key = [];
    private byte[] _value = [];
    private byte[] _slot = [];
    private ulong _version = 2;

    /// <summary>Value bytes: 100 B (small cached object) and 1 KiB.</summary>
    [Params(100, 1024)]
    public int ValueSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _key = BenchData.Key(7);
        _value = BenchData.Value(ValueSize, 1);
        var classes = new SizeClassTable(1 << 20);
        _slot = new byte[classes.SlotSize(classes.ClassFor(EntryLayout.EntrySize(_key.Length, ValueSize)))];
        EntryCodec.Write(_slot, _version, _key, _value, EntryFlags.Live);
    }

    [Benchmark]
    public void Encode()
    {
        _version += 2;
        EntryCodec.Write(_slot, _version, _key, _value, EntryFlags.Live);
    }

    [Benchmark]
    public EntryStatus Validate() => EntryValidator.Validate(_slot, _key, 0, out _);
}
