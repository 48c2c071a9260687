using System.Text;
using MirrorKv.Adapter.Resp;

namespace MirrorKv.Adapter.Tests.Resp;

/// <summary>SCAN MATCH and CONFIG GET patterns, with redis's glob rules.</summary>
public class RespGlobTests
{
    [Theory]
    [InlineData("*", "", true)]
    [InlineData("*", "anything", true)]
    [InlineData("user:*", "user:42", true)]
    [InlineData("user:*", "users:42", false)]
    [InlineData("h?llo", "hello", true)]
    [InlineData("h?llo", "hllo", false)]
    [InlineData("h[ae]llo", "hallo", true)]
    [InlineData("h[ae]llo", "hillo", false)]
    [InlineData("h[^e]llo", "hallo", true)]
    [InlineData("h[^e]llo", "hello", false)]
    [InlineData("h[a-c]llo", "hbllo", true)]
    [InlineData("h[a-c]llo", "hdllo", false)]
    [InlineData("a\\*b", "a*b", true)]
    [InlineData("a\\*b", "axb", false)]
    [InlineData("*a*b*c*", "xxaxxbxxcxx", true)]
    [InlineData("*a*b*c*", "xxaxxcxxbxx", false)]
    [InlineData("k[", "k", false)]
    public void IsMatch_FollowsRedisGlobRules(string pattern, string text, bool expected) =>
        Assert.Equal(expected, RespGlob.IsMatch(Encoding.ASCII.GetBytes(pattern), Encoding.ASCII.GetBytes(text)));

    [Fact]
    public void IsMatch_ManyStars_StaysFast()
    {
        // Exponential backtracking would take ages here; one backtrack point keeps it at pattern x text.
        byte[] pattern = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("*a", 30)) + "b");
        byte[] text = Encoding.ASCII.GetBytes(new string('a', 1000));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        Assert.False(RespGlob.IsMatch(pattern, text));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"took {watch.Elapsed}");
    }

    [Fact]
    public void IsMatch_IgnoreCase_ForConfigNames() =>
        Assert.True(RespGlob.IsMatch("MAXMEM*"u8, "maxmemory-policy"u8, ignoreCase: true));
}
