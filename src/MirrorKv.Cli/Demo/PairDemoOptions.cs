namespace MirrorKv.Cli.Demo;

/// <summary>What the pair demo runs.</summary>
/// <param name="Keys">Keys loaded: 20,000 fills a few slabs of several classes in well under a second.</param>
/// <param name="ValueSize">Bytes per value: 100 B, a typical cached object.</param>
/// <param name="BeforeKill">Workload time before kill -9 of the primary.</param>
/// <param name="AfterKill">Workload time after it.</param>
/// <param name="Json">Also print the summary as one JSON object on the last line.</param>
internal sealed record PairDemoOptions(int Keys, int ValueSize, TimeSpan BeforeKill, TimeSpan AfterKill, bool Json = false)
{
    public static PairDemoOptions Default { get; } = new(20_000, 100, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(3));
}
