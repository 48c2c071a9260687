using CsCheck;

namespace MirrorKv.Store.Tests;

/// <summary>Size classes and the slab allocator, against a model.</summary>
public class AllocatorTests
{
    [Theory]
    [InlineData(4096)]
    [InlineData(1 << 16)]
    [InlineData(1 << 20)]
    [InlineData(1 << 30)]
    public void SizeClasses_AreIncreasingMultiplesOf16_WithBoundedWaste(int slabSize)
    {
        var classes = new SizeClassTable(slabSize);
        Assert.True(classes.Count < 255);
        Assert.Equal(32, classes.SlotSize(0));
        Assert.Equal(slabSize, classes.SlotSize(classes.Count - 1));
        for (int c = 1; c < classes.Count; c++)
        {
            int size = classes.SlotSize(c), previous = classes.SlotSize(c - 1);
            Assert.True(size > previous && size % 16 == 0);
            Assert.True(size <= 512 ? size - previous == 16 : size <= (previous * 9L / 8) + 16);
        }
    }

    [Fact]
    public void ClassFor_PicksSmallestFittingClass()
    {
        var classes = new SizeClassTable(1 << 20);
        Gen.Int[1, 1 << 20].Sample(size =>
        {
            int c = classes.ClassFor(size);
            Assert.True(classes.SlotSize(c) >= size);
            Assert.True(c == 0 || classes.SlotSize(c - 1) < size);
        }, iter: 20_000);
        Assert.Equal(-1, classes.ClassFor((1 << 20) + 1));
    }

    [Fact]
    public void Allocator_RandomAllocateAndFree_MatchesModel()
    {
        Gen.Select(Gen.Int[0, int.MaxValue], Gen.Bool).Sample((seed, descending) =>
        {
            const int slabSize = 16 << 10;
            const int slabs = 24;
            var classes = new SizeClassTable(slabSize);
            var allocator = new SlabAllocator((ulong)slabs * slabSize, classes, descending ? SlabOrder.Descending : SlabOrder.Ascending);
            var live = new Dictionary<ulong, int>();
            var freedByClass = new Dictionary<int, HashSet<ulong>>();
            var random = new Random(seed);
            for (int step = 0; step < 600; step++)
            {
                if (live.Count > 0 && random.Next(3) == 0)
                {
                    ulong victim = live.Keys.ElementAt(random.Next(live.Count));
                    allocator.Free(victim);
                    int c = classes.ClassFor(live[victim]);
                    live.Remove(victim);
                    (freedByClass.TryGetValue(c, out HashSet<ulong>? s) ? s : freedByClass[c] = []).Add(victim);
                    continue;
                }

                int want = random.Next(4) == 0 ? random.Next(600, slabSize) : random.Next(1, 600);
                int cls = classes.ClassFor(want);
                if (!allocator.TryAllocate(want, out ulong offset, out int slotSize))
                {
                    Assert.Equal(slabs, allocator.ClaimedSlabs);
                    continue;
                }

                Assert.Equal(classes.SlotSize(cls), slotSize);
                // A freed slot of the class is reused before any new room is cut.
                if (freedByClass.TryGetValue(cls, out HashSet<ulong>? freed) && freed.Count > 0)
                {
                    Assert.True(freed.Remove(offset), "a new slot was cut while a freed one waited");
                }

                Assert.True(offset / slabSize == (offset + (ulong)slotSize - 1) / slabSize, "a slot crosses a slab");
                Assert.True(offset + (ulong)slotSize <= (ulong)slabs * slabSize);
                foreach ((ulong other, int otherSize) in live)
                {
                    Assert.True(offset + (ulong)slotSize <= other || other + (ulong)otherSize <= offset, "slots overlap");
                }

                live[offset] = slotSize;
                if (descending && allocator.ClaimedSlabs == 1)
                {
                    Assert.Equal(slabs - 1, (int)(offset / slabSize));
                }
            }

            Assert.Equal(live.Count, allocator.SlotsInUse);
            Assert.Equal(live.Values.Sum(v => (long)v), allocator.SlotBytesInUse);
            Assert.Equal(freedByClass.Values.Sum(s => s.Count), allocator.FreeSlots);
        }, iter: 60);
    }

    [Fact]
    public void Free_NotASlotOffset_Throws()
    {
        var allocator = new SlabAllocator(64 << 10, new SizeClassTable(16 << 10), SlabOrder.Ascending);
        Assert.True(allocator.TryAllocate(40, out ulong offset, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => allocator.Free(offset + 16));
        Assert.Throws<ArgumentOutOfRangeException>(() => allocator.Free(48 << 10));
    }
}
