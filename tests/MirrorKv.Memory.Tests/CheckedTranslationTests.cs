using CsCheck;

namespace MirrorKv.Memory.Tests;

/// <summary>
/// FAILOVER_READ's translation in one pass (<see cref="TranslationSnapshot.TryTranslateChecked"/>): the primary's
/// range rules first, in the primary's order, then the plain translation, from a single region lookup.
/// </summary>
public class CheckedTranslationTests
{
    private const int Slab = 4096;
    private const uint PrimaryRKey = 0x1111;
    private const uint LocalRKey = 0x2222;
    private const ulong PrimaryBase = 0x7f00_0000_0000;

    [Fact]
    public void TryTranslateChecked_EachOutcome_InThePrimarysOrder()
    {
        var table = new TranslationTable(Slab);
        table.MapRegion(PrimaryRKey, PrimaryBase, 4 * Slab, LocalRKey);
        table.MapSlab(PrimaryRKey, PrimaryBase + Slab, 0x5000_0000);
        TranslationSnapshot s = table.Current;

        Assert.Equal((AccessStatus.Ok, TranslationStatus.Ok, new RemotePointer(LocalRKey, 0x5000_0000 + 100, 50)), Checked(s, new(PrimaryRKey, PrimaryBase + Slab + 100, 50)));
        Assert.Equal((AccessStatus.UnknownRKey, TranslationStatus.UnknownRegion, default), Checked(s, new(0x9999, PrimaryBase, 1)));

        // The primary's order: a zero length before the address, the address before the overflow, the overflow
        // before the end of the region.
        Assert.Equal((AccessStatus.ZeroLength, TranslationStatus.ZeroLength, default), Checked(s, new(PrimaryRKey, PrimaryBase - 1, 0)));
        Assert.Equal((AccessStatus.BeforeRegion, TranslationStatus.OutsideRegion, default), Checked(s, new(PrimaryRKey, PrimaryBase - 1, 1)));
        Assert.Equal((AccessStatus.LengthOverflow, TranslationStatus.OutsideRegion, default), Checked(s, new(PrimaryRKey, ulong.MaxValue - 1, 10)));
        Assert.Equal((AccessStatus.PastEnd, TranslationStatus.OutsideRegion, default), Checked(s, new(PrimaryRKey, PrimaryBase + (4 * Slab) - 1, 2)));

        // In range, but not translatable: the plain translation says why.
        Assert.Equal((AccessStatus.Ok, TranslationStatus.UnknownSlab, default), Checked(s, new(PrimaryRKey, PrimaryBase, 1)));
        Assert.Equal((AccessStatus.Ok, TranslationStatus.CrossesSlab, default), Checked(s, new(PrimaryRKey, PrimaryBase + (2 * Slab) - 10, 20)));
    }

    [Fact]
    public void TryTranslateChecked_WhenInRange_AgreesWithTryTranslate_AndOutOfRangeNeverTranslates()
    {
        // Random pointers around a region with a few mapped slabs of different deltas: in range, the answer is the
        // plain translation's; out of range, nothing translates; and every pointer the plain translation accepts
        // is in range.
        const int slabs = 8;
        var table = new TranslationTable(Slab);
        table.MapRegion(PrimaryRKey, PrimaryBase, slabs * Slab, LocalRKey);
        table.MapSlab(PrimaryRKey, PrimaryBase + Slab, 0x5000_0000);
        table.MapSlab(PrimaryRKey, PrimaryBase + (3 * Slab), 0x4000_0000);
        table.MapSlab(PrimaryRKey, PrimaryBase + (6 * Slab), 0x9000_0000);
        TranslationSnapshot s = table.Current;

        Gen.Select(Gen.Long[-Slab, (slabs + 1) * Slab], Gen.Int[0, 2 * Slab], Gen.Bool).Sample((offset, length, unknownRKey) =>
        {
            var pointer = new RemotePointer(unknownRKey ? 0x9999u : PrimaryRKey, (ulong)((long)PrimaryBase + offset), (uint)length);
            (AccessStatus range, TranslationStatus translated, RemotePointer local) = Checked(s, pointer);
            TranslationStatus plain = s.TryTranslate(pointer, out RemotePointer plainLocal);
            if (range == AccessStatus.Ok)
            {
                Assert.Equal((plain, plainLocal), (translated, local));
            }
            else
            {
                Assert.NotEqual(TranslationStatus.Ok, translated);
                Assert.Equal(default, local);
            }

            Assert.True(plain != TranslationStatus.Ok || range == AccessStatus.Ok, $"{pointer}: translated, yet refused with {range}");
        }, iter: 20_000);
    }

    private static (AccessStatus Range, TranslationStatus Translation, RemotePointer Local) Checked(TranslationSnapshot s, RemotePointer primary)
    {
        AccessStatus range = s.TryTranslateChecked(primary, out RemotePointer local, out TranslationStatus translation);
        return (range, translation, local);
    }
}
