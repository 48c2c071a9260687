using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace MirrorKv.IntegrationTests;

/// <summary>One scrape of a Prometheus text exposition, parsed: samples by metric name and labels, and each metric's TYPE.</summary>
internal sealed partial class PrometheusScrape
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    private PrometheusScrape(List<(string Name, Dictionary<string, string> Labels, double Value)> samples, Dictionary<string, string> types)
    {
        Samples = samples;
        Types = types;
    }

    public IReadOnlyList<(string Name, Dictionary<string, string> Labels, double Value)> Samples { get; }

    public IReadOnlyDictionary<string, string> Types { get; }

    public static async Task<PrometheusScrape> FetchAsync(IPEndPoint endPoint)
    {
        string text = await Http.GetStringAsync($"http://{endPoint}/metrics");
        return Parse(text);
    }

    public static PrometheusScrape Parse(string text)
    {
        var samples = new List<(string, Dictionary<string, string>, double)>();
        var types = new Dictionary<string, string>();
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                string[] parts = line.Split(' ');
                types[parts[2]] = parts[3];
                continue;
            }

            if (line.StartsWith('#'))
            {
                continue;
            }

            Match sample = SampleLine().Match(line);
            Assert.True(sample.Success, $"not a sample line of the exposition format: {line}");
            var labels = new Dictionary<string, string>();
            foreach (Match label in Label().Matches(sample.Groups["labels"].Value))
            {
                labels[label.Groups["key"].Value] = label.Groups["value"].Value;
            }

            samples.Add((sample.Groups["name"].Value, labels, double.Parse(sample.Groups["value"].Value, CultureInfo.InvariantCulture)));
        }

        return new PrometheusScrape(samples, types);
    }

    /// <summary>The one sample of <paramref name="name"/> whose labels include <paramref name="labels"/> (key=value each).</summary>
    public double Value(string name, params string[] labels)
    {
        (string, Dictionary<string, string>, double Value)[] matching = [.. Samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Split('=')[0], out string? v) && v == l.Split('=', 2)[1]))];
        Assert.True(matching.Length == 1, $"{matching.Length} samples of {name} {{{string.Join(',', labels)}}} in the scrape");
        return matching[0].Value;
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})?\s+(?<value>\S+)(\s+\d+)?$")]
    private static partial Regex SampleLine();

    [GeneratedRegex(@"(?<key>[a-zA-Z_][a-zA-Z0-9_]*)=""(?<value>(?:[^""\\]|\\.)*)""")]
    private static partial Regex Label();
}
