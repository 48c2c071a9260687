using BenchmarkDotNet.Attributes;
using MirrorKv.Entries;
using MirrorKv.Memory;
using MirrorKv.Store;

namespace MirrorKv.Benchmarks.Replication;

/// <summary>
/// A joining secondary's per-slab work, without the network: 256 MiB of a primary's slabs (16-byte keys) applied
/// to an empty replica, whole slabs at once (<see cref="StoreEngine.ApplySlabCopy"/>, today's path) and slot by
/// slot through <see cref="StoreEngine.Apply"/> (the path before it). Each invocation starts from an empty
/// replica, so it pays the index's growth (or its one reservation) and every cache miss a real copy pays.
/// </summary>
[MemoryDiagnoser]
public class SlabCopyBenchmarks
{
    private const ulong DataBytes = 256UL << 20;
    private StoreEngine _primary = null!;
    private StoreEngine? _replica;
    private (ulong Base, int SlotSize, byte[] Image)[] _slabs = [];

    [Params(100, 1000)]
    public int ValueSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _primary = new StoreEngine(StoreOptions.Default with { MaxMemory = 2 * DataBytes });
        byte[] value = Micro.BenchData.Value(ValueSize, 7);
        for (int i = 0; _primary.GetStats().ClaimedSlabs < (int)(DataBytes >> 20); i++)
        {
            _ = _primary.Write(Micro.BenchData.Key(i), value);
        }

        int slabSize = _primary.Options.SlabSize;
        _slabs = _primary.GetClaimedSlabLayout()
            .Select(s => (_primary.Memory.AddressOf((ulong)s.Slab * (ulong)slabSize), s.SlotSize, _primary.Memory.GetSpan((ulong)s.Slab * (ulong)slabSize, slabSize).ToArray()))
            .ToArray();
    }

    [IterationSetup]
    public void NewReplica()
    {
        _replica?.Dispose();
        _replica = new StoreEngine(StoreOptions.Default with { MaxMemory = 2 * DataBytes, SlabOrder = SlabOrder.Descending });
        foreach (MemoryRegion region in _primary.Regions)
        {
            _replica.MirrorPrimaryRegion(region.RKey, region.BaseAddress, region.Length);
        }
    }

    [Benchmark(Description = "256 MiB, whole slabs (ApplySlabCopy)")]
    public int WholeSlabs()
    {
        StoreEngine replica = _replica!;
        replica.ReserveIndex(_slabs.Sum(s => (long)(_primary.Options.SlabSize / s.SlotSize)));
        int applied = 0;
        foreach ((ulong slabBase, int slotSize, byte[] image) in _slabs)
        {
            applied += replica.ApplySlabCopy(replica.MirroredRKeyAt(slabBase), slabBase, slotSize, image).Applied;
        }

        return applied;
    }

    [Benchmark(Baseline = true, Description = "256 MiB, slot by slot (Apply)")]
    public int SlotBySlot()
    {
        StoreEngine replica = _replica!;
        int applied = 0;
        foreach ((ulong slabBase, int slotSize, byte[] image) in _slabs)
        {
            for (int at = 0; at + slotSize <= image.Length; at += slotSize)
            {
                ReadOnlySpan<byte> slot = image.AsSpan(at, slotSize);
                if (EntryValidator.TryParse(slot, out ulong version, out EntryFlags flags, out int keyLength, out int valueLength))
                {
                    var change = new SlotChange(new RemotePointer(replica.MirroredRKeyAt(slabBase), slabBase + (ulong)at, (uint)slotSize), version, flags,
                        slot.Slice(EntryLayout.HeaderSize, keyLength), slot.Slice(EntryLayout.HeaderSize + keyLength, valueLength));
                    applied += replica.Apply(change) == ApplyStatus.Applied ? 1 : 0;
                }
            }
        }

        return applied;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _replica?.Dispose();
        _primary.Dispose();
    }
}
