using CsCheck;

namespace MirrorKv.Store.Tests;

/// <summary>
/// The slab allocator with rebalancing, driven as the store engine drives it (allocate; when that fails, take
/// an empty slab, release it, allocate again), against a model of which slab holds which slots.
/// </summary>
public class AllocatorRebalanceModelTests
{
    private const int SlabSize = 4096;
    private const int Slabs = 12;

    [Fact]
    public void Allocator_RandomWorkloadWithRebalancing_MatchesModel()
    {
        long moves = 0;
        Gen.Select(Gen.Int[0, int.MaxValue], Gen.Bool).Sample((seed, descending) =>
        {
            var classes = new SizeClassTable(SlabSize);
            var allocator = new SlabAllocator((ulong)Slabs * SlabSize, classes, descending ? SlabOrder.Descending : SlabOrder.Ascending);
            var model = new Model(classes);
            var random = new Random(seed);
            for (int step = 0; step < 1500; step++)
            {
                // Phases favour one size range, so that classes empty out and others need their slabs.
                int phase = step / 250 % 3;
                if (model.Live.Count > 0 && random.Next(phase == 1 ? 2 : 3) == 0)
                {
                    ulong victim = model.Live.Keys.ElementAt(random.Next(model.Live.Count));
                    allocator.Free(victim);
                    model.Free(victim);
                }
                else
                {
                    int want = phase switch { 0 => random.Next(1, 100), 1 => random.Next(100, 700), _ => random.Next(700, SlabSize) };
                    if (Allocate(allocator, model, want))
                    {
                        Interlocked.Increment(ref moves);
                    }
                }

                Assert.Equal(model.Live.Count, allocator.SlotsInUse);
                Assert.Equal(model.Live.Values.Sum(v => (long)v), allocator.SlotBytesInUse);
                Assert.Equal(model.SlabClass.Count, allocator.ClaimedSlabs);
                Assert.Equal(model.EmptySlabs(), allocator.EmptySlabs);
            }
        }, iter: 80);
        Assert.True(moves > 80, $"only {moves} slab moves over the run");
    }

    [Fact]
    public void ReleaseSlab_WithASlotInUse_IsRefused()
    {
        var allocator = new SlabAllocator(4 * SlabSize, new SizeClassTable(SlabSize), SlabOrder.Ascending);
        Assert.True(allocator.TryAllocate(40, out ulong offset, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => allocator.ReleaseSlab(allocator.SlabOf(offset)));
        Assert.Throws<ArgumentOutOfRangeException>(() => allocator.ReleaseSlab(3));
        Assert.False(allocator.TryTakeEmptySlab(out _));

        allocator.Free(offset);
        Assert.True(allocator.TryTakeEmptySlab(out int empty));
        allocator.ReleaseSlab(empty);
        Assert.Equal(0, allocator.ClaimedSlabs);
        Assert.Throws<ArgumentOutOfRangeException>(() => allocator.Free(offset));
    }

    // True when a slab was moved to serve the allocation.
    private static bool Allocate(SlabAllocator allocator, Model model, int want)
    {
        int cls = model.Classes.ClassFor(want);
        int slotSize = model.Classes.SlotSize(cls);
        int claimedBefore = allocator.ClaimedSlabs;
        bool roomInClass = model.HasRoom(cls);
        bool ok = allocator.TryAllocate(want, out ulong offset, out int size);
        if (!ok)
        {
            // Nothing of the class free, and the pool empty: only then may the engine move a slab.
            Assert.False(roomInClass, "allocation failed while the class had a free slot");
            Assert.Equal(Slabs, claimedBefore);
            bool hadEmpty = model.EmptySlabs() > 0;
            Assert.Equal(hadEmpty, allocator.TryTakeEmptySlab(out int slab));
            if (!hadEmpty)
            {
                return false;
            }

            Assert.DoesNotContain(model.Live.Keys, o => (int)(o / SlabSize) == slab);
            allocator.ReleaseSlab(slab);
            model.SlabClass.Remove(slab);
            ok = allocator.TryAllocate(want, out offset, out size);
            Assert.True(ok, "no slot in a slab just released");
        }
        else if (roomInClass)
        {
            Assert.Equal(claimedBefore, allocator.ClaimedSlabs);
        }

        Assert.Equal(slotSize, size);
        int slabIndex = (int)(offset / SlabSize);
        Assert.True(offset / SlabSize == (offset + (ulong)size - 1) / SlabSize, "a slot crosses a slab");
        Assert.Equal(0UL, offset % SlabSize % (ulong)size);
        if (model.SlabClass.TryGetValue(slabIndex, out int owner))
        {
            Assert.Equal(cls, owner);
        }
        else
        {
            model.SlabClass[slabIndex] = cls;
        }

        Assert.False(model.Live.ContainsKey(offset), "a slot handed out twice");
        foreach ((ulong other, int otherSize) in model.Live)
        {
            Assert.True(offset + (ulong)size <= other || other + (ulong)otherSize <= offset, "slots overlap");
        }

        model.Live[offset] = size;
        return claimedBefore == Slabs && !roomInClass;
    }

    private sealed class Model(SizeClassTable classes)
    {
        public SizeClassTable Classes { get; } = classes;

        public Dictionary<ulong, int> Live { get; } = [];

        public Dictionary<int, int> SlabClass { get; } = [];

        public void Free(ulong offset) => Live.Remove(offset);

        public int EmptySlabs() => SlabClass.Keys.Count(s => !Live.Keys.Any(o => (int)(o / SlabSize) == s));

        // Some slab of the class has fewer live slots than it holds.
        public bool HasRoom(int cls) => SlabClass.Where(p => p.Value == cls)
            .Any(p => Live.Keys.Count(o => (int)(o / SlabSize) == p.Key) < SlabSize / Classes.SlotSize(cls));
    }
}
