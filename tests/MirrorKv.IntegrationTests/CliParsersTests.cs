using MirrorKv.Cli;

namespace MirrorKv.IntegrationTests;

/// <summary>Sizes as operators write them: ours (256m) and redis's maxmemory habits (1gb).</summary>
public class CliParsersTests
{
    [Theory]
    [InlineData("4096", 4096UL)]
    [InlineData("256m", 256UL << 20)]
    [InlineData("256M", 256UL << 20)]
    [InlineData("1gb", 1UL << 30)]
    [InlineData("1GB", 1UL << 30)]
    [InlineData("512mb", 512UL << 20)]
    [InlineData("64kb", 64UL << 10)]
    [InlineData("2GiB", 2UL << 30)]
    [InlineData(" 8k ", 8UL << 10)]
    public void TryParseSize_TakesOurSuffixesAndRedissOnes(string text, ulong expected)
    {
        Assert.True(CliParsers.TryParseSize(text, out ulong bytes, out string? error), error);
        Assert.Equal(expected, bytes);
    }

    [Theory]
    [InlineData("")]
    [InlineData("gb")]
    [InlineData("1tb")]
    [InlineData("1.5g")]
    [InlineData("-1m")]
    [InlineData("1 gb")]
    [InlineData("99999999999999999999g")]
    [InlineData("1bg")]
    public void TryParseSize_RefusesWhatIsNotASize_SayingWhatIs(string text)
    {
        Assert.False(CliParsers.TryParseSize(text, out _, out string? error));
        Assert.Contains("is not a size", error, StringComparison.Ordinal);
    }
}
