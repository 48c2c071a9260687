using BenchmarkDotNet.Attributes;
using MirrorKv.Store;

namespace MirrorKv.Benchmarks.Micro;

/// <summary>
/// A delete of one of a million keys, visited in random order, and the write that puts it back (so that the
/// store stays full): the delete through the index (the probe reads keys from the region), and at the caller's
/// pointer (the slot checked, its index entry found by the slot). The write is the same in both.
/// </summary>
[MemoryDiagnoser]
public class DeleteByPointerBenchmarks : KeyPointerBenchmarks
{
    [Benchmark(Baseline = true)]
    public WriteKind ThroughTheIndex()
    {
        int i = Next();
        Store.Delete(KeysInOrder[i]);
        return PutBack(i);
    }

    [Benchmark]
    public WriteKind AtThePointer()
    {
        int i = Next();
        Store.Delete(KeysInOrder[i], Pointers[i]);
        return PutBack(i);
    }

    private WriteKind PutBack(int i)
    {
        StoreWriteResult back = Store.Write(KeysInOrder[i], Value);
        Pointers[i] = back.Pointer;
        return back.Kind;
    }
}
