using CsCheck;

namespace MirrorKv.Store.Tests;

/// <summary>
/// The slab allocator with large entries' spans beside size classes and rebalancing, driven as the store engine
/// drives it, against a model of the live slots' byte ranges: no two ever overlap, a span's slabs lie in a row
/// inside one chunk, and the counters agree.
/// </summary>
public class AllocatorSpanModelTests
{
    private const int SlabSize = 4096;
    private static readonly int[] ChunkSlabs = [1, 3, 8, 12];

    [Fact]
    public void Allocator_RandomWorkloadWithSpans_MatchesModel()
    {
        long spans = 0;
        Gen.Select(Gen.Int[0, int.MaxValue], Gen.Bool).Sample((seed, descending) =>
        {
            var classes = new SizeClassTable(SlabSize);
            var allocator = new SlabAllocator(classes, descending ? SlabOrder.Descending : SlabOrder.Ascending);
            var chunks = new List<(int First, int Count)>();
            foreach (int count in ChunkSlabs)
            {
                chunks.Add((allocator.AddSlabs(count), count));
            }

            var live = new SortedDictionary<ulong, int>();
            var random = new Random(seed);
            for (int step = 0; step < 1500; step++)
            {
                if (live.Count > 0 && random.Next(3) == 0)
                {
                    ulong victim = live.Keys.ElementAt(random.Next(live.Count));
                    int slab = allocator.SlabOf(victim);
                    if (allocator.IsSpanHead(slab))
                    {
                        allocator.ReleaseSpan(slab);
                    }
                    else
                    {
                        allocator.Free(victim);
                    }

                    live.Remove(victim);
                }
                else if (random.Next(4) == 0)
                {
                    // A large entry: a run in some chunk, after giving empty slabs back as the engine does at need.
                    int slotSize = (int)SizeClassTable.SpanSlotSize(random.Next(SlabSize + 1, 5 * SlabSize));
                    int slabs = classes.SpanSlabs(slotSize);
                    int head = FindRun(allocator, chunks, slabs);
                    while (head < 0 && allocator.TryTakeEmptySlab(out int empty))
                    {
                        allocator.ReleaseSlab(empty);
                        head = FindRun(allocator, chunks, slabs);
                    }

                    if (head >= 0)
                    {
                        ulong offset = allocator.ClaimSpan(head, slotSize, inUse: true);
                        Assert.Equal(slotSize, allocator.SlotSizeAt(offset));
                        Assert.Contains(chunks, c => head >= c.First && head + slabs <= c.First + c.Count);
                        live.Add(offset, slotSize);
                        Interlocked.Increment(ref spans);
                    }
                }
                else
                {
                    int want = random.Next(1, SlabSize);
                    bool ok = allocator.TryAllocate(want, out ulong offset, out int slotSize);
                    if (!ok && allocator.TryTakeEmptySlab(out int empty))
                    {
                        allocator.ReleaseSlab(empty);
                        ok = allocator.TryAllocate(want, out offset, out slotSize);
                    }

                    if (ok)
                    {
                        Assert.True(slotSize >= want);
                        live.Add(offset, slotSize);
                    }
                }

                AssertConsistent(allocator, live);
            }
        }, iter: 60);
        Assert.True(spans > 500, $"only {spans} spans claimed over the run");
    }

    private static int FindRun(SlabAllocator allocator, List<(int First, int Count)> chunks, int slabs)
    {
        foreach ((int first, int count) in chunks)
        {
            int head = allocator.FindUnclaimedRun(first, count, slabs, fromTop: false);
            if (head >= 0)
            {
                return head;
            }
        }

        return -1;
    }

    private static void AssertConsistent(SlabAllocator allocator, SortedDictionary<ulong, int> live)
    {
        ulong end = 0;
        int spanSlabs = 0;
        foreach ((ulong offset, int size) in live)
        {
            Assert.True(offset >= end, $"slot at {offset} overlaps the one before, which ends at {end}");
            end = offset + (ulong)size;
            int slab = allocator.SlabOf(offset);
            if (size > SlabSize)
            {
                spanSlabs += allocator.SpanSlabsAt(slab);
                for (int i = 1; i < allocator.SpanSlabsAt(slab); i++)
                {
                    Assert.True(allocator.IsSpan(slab + i) && !allocator.IsSpanHead(slab + i));
                    Assert.Equal(0, allocator.SlotSizeAt((ulong)(slab + i) * SlabSize));
                }
            }
            else
            {
                Assert.False(allocator.IsSpan(slab));
                Assert.True(offset + (ulong)size <= (ulong)(slab + 1) * SlabSize, "a class's slot crosses its slab");
            }
        }

        Assert.Equal(live.Count, allocator.SlotsInUse);
        Assert.Equal(live.Values.Sum(v => (long)v), allocator.SlotBytesInUse);
        Assert.Equal(allocator.SlabCount - allocator.ClaimedSlabs, allocator.PooledSlabs);
        int claimedSpanSlabs = Enumerable.Range(0, allocator.SlabCount).Count(allocator.IsSpan);
        Assert.Equal(spanSlabs, claimedSpanSlabs);
    }
}
