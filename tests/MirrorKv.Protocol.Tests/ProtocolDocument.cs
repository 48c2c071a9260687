using System.Globalization;
using System.Text.RegularExpressions;

namespace MirrorKv.Protocol.Tests;

/// <summary>
/// docs/protocol.md as the tests read it: the hex examples by name, the tables by the heading above them.
/// Linked into MirrorKv.Adapter.Tests too, so that the node's conformance tests read the very same page.
/// </summary>
internal static partial class ProtocolDocument
{
    /// <summary>The whole page.</summary>
    public static string Text { get; } = Load();

    /// <summary>Every <c>```hex</c> block, by the name in its <c># example:</c> line.</summary>
    public static IReadOnlyDictionary<string, byte[]> Examples { get; } = LoadExamples(Text);

    /// <summary>
    /// The body rows of the first table after the heading that contains <paramref name="heading"/> whose first
    /// header cell is <paramref name="firstColumn"/>; each row's cells trimmed.
    /// </summary>
    public static IReadOnlyList<string[]> Table(string heading, string firstColumn)
    {
        // Code blocks dropped first: their "# example:" lines are not headings.
        string[] lines = [.. Text.Split('\n').Where((_, i) => !InCodeBlock[i])];
        int at = Array.FindIndex(lines, l => l.StartsWith('#') && l.Contains(heading, StringComparison.Ordinal));
        Assert.True(at >= 0, $"docs/protocol.md has no heading with \"{heading}\"");
        int level = lines[at].TakeWhile(c => c == '#').Count();
        for (int i = at + 1; i < lines.Length && !(lines[i].StartsWith('#') && lines[i].TakeWhile(c => c == '#').Count() <= level); i++)
        {
            if (lines[i].StartsWith('|') && Cells(lines[i])[0] == firstColumn)
            {
                var rows = new List<string[]>();
                for (int j = i + 2; j < lines.Length && lines[j].StartsWith('|'); j++)
                {
                    rows.Add(Cells(lines[j]));
                }

                return rows;
            }
        }

        Assert.Fail($"docs/protocol.md has no table starting with \"{firstColumn}\" under \"{heading}\"");
        return [];
    }

    private static bool[] InCodeBlock { get; } = MarkCodeBlocks(Text.Split('\n'));

    private static bool[] MarkCodeBlocks(string[] lines)
    {
        var inside = new bool[lines.Length];
        bool open = false;
        for (int i = 0; i < lines.Length; i++)
        {
            bool fence = lines[i].StartsWith("```", StringComparison.Ordinal);
            inside[i] = open || fence;
            open ^= fence;
        }

        return inside;
    }

    /// <summary>
    /// The row of "Statuses by request" for a frame with this opcode (its own row, or the row of any other
    /// opcode below 0x80), or for any frame when <paramref name="opcode"/> is null: the row's label, the
    /// statuses that come in a reply (the connection stays open) and those that come in ERROR (it closes).
    /// </summary>
    public static (string Row, WireStatus[] Kept, WireStatus[] Closed) StatusesOf(Opcode? opcode)
    {
        IReadOnlyList<string[]> table = Table("Statuses by request", "request");
        string[] row = opcode is null ? Row(table, "any frame")
            : table.SingleOrDefault(r => r[0].Contains($"0x{(byte)opcode:x2}", StringComparison.Ordinal) && !r[0].StartsWith("any", StringComparison.Ordinal))
                ?? Row(table, "any other opcode");
        return (row[0], Statuses(row[1]), Statuses(row[2]));
    }

    /// <summary>The one row of a table whose first cell starts with <paramref name="firstCell"/>.</summary>
    public static string[] Row(IReadOnlyList<string[]> table, string firstCell) =>
        Assert.Single(table, r => r[0].StartsWith(firstCell, StringComparison.Ordinal));

    /// <summary>
    /// The integers in a cell, in order. "66,560" is one number (no space after its comma); "0, 51" two.
    /// </summary>
    public static long[] Numbers(string cell) =>
        [.. Number().Matches(cell).Select(m => long.Parse(m.Value.Replace(",", "", StringComparison.Ordinal), CultureInfo.InvariantCulture))];

    /// <summary>The integers of a status list cell; an empty cell is an empty list.</summary>
    public static WireStatus[] Statuses(string cell) => [.. Numbers(cell).Select(n => (WireStatus)checked((byte)n))];

    /// <summary>The hex bytes in a cell written as <c>`01 07`</c>.</summary>
    public static byte[] HexBytes(string cell) =>
        Convert.FromHexString(string.Concat(Regex.Match(cell, "`(?<hex>[0-9a-f ]+)`").Groups["hex"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)));

    private static string[] Cells(string line) => [.. line.Trim().Trim('|').Split('|').Select(c => c.Trim())];

    private static string Load()
    {
        DirectoryInfo? dir = new(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "docs", "protocol.md")))
        {
            dir = dir.Parent;
        }

        return File.ReadAllText(Path.Combine(dir?.FullName ?? throw new FileNotFoundException("docs/protocol.md not found above the test directory"), "docs", "protocol.md"))
            .Replace("\r\n", "\n", StringComparison.Ordinal);
    }

    private static Dictionary<string, byte[]> LoadExamples(string text)
    {
        var examples = new Dictionary<string, byte[]>();
        foreach (Match m in HexBlock().Matches(text))
        {
            string hex = string.Concat(m.Groups["hex"].Value.Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries));
            examples.Add(m.Groups["name"].Value, Convert.FromHexString(hex));
        }

        return examples;
    }

    [GeneratedRegex(@"```hex\n# example: (?<name>[a-z0-9-]+)\n(?<hex>[0-9a-f \n]+)```", RegexOptions.CultureInvariant)]
    private static partial Regex HexBlock();

    [GeneratedRegex(@"\d{1,3}(?:,\d{3})+|\d+", RegexOptions.CultureInvariant)]
    private static partial Regex Number();
}
