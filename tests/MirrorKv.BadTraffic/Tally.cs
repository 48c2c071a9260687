using System.Collections.Concurrent;
using System.Text;

namespace MirrorKv.BadTraffic;

/// <summary>How many bad inputs of each kind were sent, and how the nodes answered them.</summary>
internal sealed class Tally
{
    private readonly ConcurrentDictionary<string, long> _counts = new();

    public void Add(string what, long count = 1) => _counts.AddOrUpdate(what, count, (_, c) => c + count);

    /// <summary>One line, <c>kind=count</c> pairs sorted by kind, for the test and the docs.</summary>
    public override string ToString()
    {
        var line = new StringBuilder("badtraffic:");
        foreach ((string what, long count) in _counts.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            line.Append(' ').Append(what).Append('=').Append(count);
        }

        return line.ToString();
    }
}
