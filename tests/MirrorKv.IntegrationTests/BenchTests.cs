using System.Globalization;
using System.Text.RegularExpressions;

namespace MirrorKv.IntegrationTests;

/// <summary><c>mirrorkv bench</c> end to end, short: its rows parse, and with redis installed the comparison runs.</summary>
[Collection(nameof(ProcessTests))]
public partial class BenchTests
{
    [Theory]
    [InlineData("get")]
    [InlineData("set")]
    public async Task Bench_CompareRedis_PrintsParsableRowsAndRatio(string op)
    {
        (int exitCode, string output) = await DemoTests.RunCliAsync(TimeSpan.FromMinutes(2),
            "bench", "--op", op, "--keys", "2000", "--pipeline", "4", "--duration", "1", "--warmup", "1", "--compare", "redis");
        Assert.True(exitCode == 0, output);

        Match ours = Row().Match(output);
        Assert.True(ours.Success && ours.Groups["target"].Value == "mirrorkv", output);
        Assert.Equal(op, ours.Groups["op"].Value);
        Assert.True(Ops(ours) > 0, output);

        if (output.Contains("redis comparison skipped", StringComparison.Ordinal))
        {
            Assert.Contains("apt-get install redis-server", output, StringComparison.Ordinal);
            return;
        }

        Match theirs = Row().Matches(output).Single(m => m.Groups["target"].Value == "redis");
        Match ratio = Ratio().Match(output);
        Assert.True(ratio.Success, output);
        Assert.Equal(Ops(ours) / Ops(theirs), double.Parse(ratio.Groups["ratio"].Value, CultureInfo.InvariantCulture), 2);
    }

    private static double Ops(Match row) => double.Parse(row.Groups["ops"].Value.Replace(",", "", StringComparison.Ordinal), CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^(?<target>mirrorkv|redis) +(?<op>get|set) +\d+ B +c=\d+ P=\d+ +(?<ops>[0-9,]+) ops/s", RegexOptions.Multiline)]
    private static partial Regex Row();

    [GeneratedRegex(@"^ratio .* = (?<ratio>[0-9.]+)$", RegexOptions.Multiline)]
    private static partial Regex Ratio();
}
