using MirrorKv.Memory;

namespace MirrorKv.Memory.Tests;

public class SecureRandomTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(256)]
    [InlineData(4096)]
    public void Fill_WritesEveryByte_AndNoTwoFillsAlike(int length)
    {
        // Untouched bytes stay at the sentinel. A fill of n bytes leaves a given byte at 0xA5 with probability 1/256,
        // so with several lengths the whole buffer can't keep it unless the call wrote nothing.
        var first = new byte[length + 1];
        var second = new byte[length];
        Array.Fill(first, (byte)0xA5);
        Array.Fill(second, (byte)0xA5);
        SecureRandom.Fill(first.AsSpan(0, length));
        SecureRandom.Fill(second);

        Assert.Equal(0xA5, first[length]);
        if (length >= 8)
        {
            Assert.NotEqual(first.AsSpan(0, length).ToArray(), second);
            Assert.True(first.Take(length).Count(b => b == 0xA5) < length / 8 + 2, "most bytes still hold the sentinel");

            // Every byte value about equally often over many draws (a stuck bit would halve the distinct values).
            Assert.True(first.Take(length).Distinct().Count() >= Math.Min(length / 2, 200));
        }
    }

    [Fact]
    public void NextUInt64_DrawsDistinctValues()
    {
        var seen = new HashSet<ulong>();
        for (int i = 0; i < 1000; i++)
        {
            Assert.True(seen.Add(SecureRandom.NextUInt64()), "a 64-bit draw repeated within 1,000");
        }
    }

    [Fact]
    public void NewRKey_IsNeverZero_AndVaries()
    {
        var keys = Enumerable.Range(0, 200).Select(_ => MemoryRegion.NewRKey()).ToList();
        Assert.DoesNotContain(0u, keys);
        Assert.True(keys.Distinct().Count() > 190);
    }
}
