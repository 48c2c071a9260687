using System.Text;
using MirrorKv.Entries;
using MirrorKv.Memory;
using MirrorKv.Store;

namespace MirrorKv.Adapter.Tests;

/// <summary>The audit of a secondary's store against its primary's, once the secondary has applied every record.</summary>
internal static class PairAudit
{
    // Every key present on both nodes or neither, at translated addresses, with the same version and bytes; the
    // same entry and slab counts; and a translation with at least two deltas (so a skipped translation fails).
    public static void AssertIdentical(StoreEngine primary, StoreEngine secondary, IEnumerable<string> keys)
    {
        TranslationSnapshot translation = secondary.Translation!.Current;
        Assert.True(translation.CountDistinctDeltas() >= 2);
        foreach (string name in keys)
        {
            byte[] key = Encoding.UTF8.GetBytes(name);
            bool onPrimary = primary.TryLookup(key, out RemotePointer pointer, out ulong version);
            Assert.Equal(onPrimary, secondary.TryLookup(key, out RemotePointer local, out ulong localVersion));
            if (!onPrimary)
            {
                continue;
            }

            Assert.Equal(version, localVersion);
            Assert.Equal(translation.Translate(pointer), local);
            Span<byte> a = primary.SpanAt(pointer);
            Span<byte> b = secondary.SpanAt(local);
            Assert.Equal(EntryStatus.Ok, EntryValidator.Validate(a, key, 0, out ValidatedEntry entry));
            int size = entry.ValueOffset + entry.ValueLength;
            Assert.Equal(a[..size].ToArray(), b[..size].ToArray());
        }

        Assert.Equal(primary.GetStats().Entries, secondary.GetStats().Entries);
        Assert.Equal(primary.GetStats().ClaimedSlabs, secondary.GetStats().ClaimedSlabs);
    }
}
