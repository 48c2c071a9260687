using MirrorKv.Memory;

namespace MirrorKv.Store;

/// <summary>
/// Runs a joining secondary's slab copy path (<see cref="StoreEngine.ApplySlabCopy"/>: slot validation, the
/// checksum over every entry size range, key hashing, index inserts) on scratch engines, in short bursts, so
/// that the runtime has compiled it optimized before a real copy needs it.
/// </summary>
/// <remarks>
/// A node copies slabs once or twice in its life, for about a second per GiB: too short for tiered
/// compilation, which first runs a method unoptimized, counts its calls only after 100 ms without new
/// unoptimized code anywhere in the process, and compiles the optimized version in the background. Measured
/// on the 2-core machine (`bench --rejoin --data 1g --value-size 1000`): the copy ran at 0.86-0.89 GiB/s with
/// the checksum's unoptimized code as its largest cost, against 1.17-1.42 GiB/s with tiered compilation off
/// for the process. Turning it off for the process is no answer: the steady read and write paths lose the
/// profile-guided code (5-10 % of throughput in `bench`). The bursts are spread over about a second, since
/// the calls only count once the runtime's delay has passed; they cost tens of milliseconds of CPU (most of
/// it clearing 4 MiB scratch regions), once per process.
/// </remarks>
public static class SlabCopyWarmUp
{
    // Value sizes whose entries fall in each of the checksum's size ranges (0-16, 17-128, 129-240, over 240
    // bytes hashed) and in a few size classes.
    private static readonly int[] ValueSizes = [4, 100, 200, 1000];
    private const int EntriesPerSize = 200;

    // Each burst allocates and clears a scratch secondary store of one slab per value size: kept small, since a node
    // process pays for it in CPU at start, beside whatever else starts with it.
    private const int Bursts = 12;
    private static readonly TimeSpan BurstInterval = TimeSpan.FromMilliseconds(100);
    private static readonly Lazy<Task> Once = new(() => Task.Run(RunBursts));

    /// <summary>Starts the warm-up once per process; later calls return the same task.</summary>
    public static Task Start() => Once.Value;

    private static async Task RunBursts()
    {
        var options = StoreOptions.Default with { MaxMemory = (ulong)(ValueSizes.Length + 1) << 20, InitialIndexCapacity = 1024 };
        using var primary = new StoreEngine(options);
        Span<byte> key = stackalloc byte[16];
        var value = new byte[ValueSizes[^1]];
        int written = 0;
        foreach (int size in ValueSizes)
        {
            for (int i = 0; i < EntriesPerSize; i++, written++)
            {
                BitConverter.TryWriteBytes(key, written);
                primary.Write(key, value.AsSpan(0, size));
            }
        }

        IReadOnlyList<(int Slab, int SlotSize)> slabs = primary.GetClaimedSlabLayout();
        byte[][] images = new byte[slabs.Count][];
        for (int i = 0; i < slabs.Count; i++)
        {
            images[i] = primary.Memory.GetSpan((ulong)slabs[i].Slab * (ulong)options.SlabSize, options.SlabSize).ToArray();
        }

        for (int burst = 0; burst < Bursts; burst++)
        {
            using var secondary = new StoreEngine(options with { SlabOrder = SlabOrder.Descending });
            foreach (MemoryRegion region in primary.Regions)
            {
                secondary.MirrorPrimaryRegion(region.RKey, region.BaseAddress, region.Length);
            }

            for (int i = 0; i < slabs.Count; i++)
            {
                RemotePointer slab = primary.Memory.PointerAt((ulong)slabs[i].Slab * (ulong)options.SlabSize, (uint)options.SlabSize);
                secondary.ApplySlabCopy(slab.RKey, slab.Address, slabs[i].SlotSize, images[i]);
            }

            await Task.Delay(BurstInterval).ConfigureAwait(false);
        }
    }
}
