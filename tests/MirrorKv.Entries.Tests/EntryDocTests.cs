using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text.RegularExpressions;

namespace MirrorKv.Entries.Tests;

/// <summary>
/// What docs/protocol.md says of the entry format, checked against the codec: the checksum's hash function by
/// its test vector, and the READ reply example byte for byte (MirrorKv.Protocol.Tests checks its frame header).
/// </summary>
public partial class EntryDocTests
{
    private static readonly string Page = LoadPage();

    [Fact]
    public void ChecksumFunction_IsXxh3_64WithSeed_AsTheTestVectorOnThePageSays()
    {
        // XXH3_64bits_withSeed of no bytes with seed 0, as the xxHash reference gives it: the page quotes it.
        Assert.Equal(0x2D06800538D394C2UL, XxHash3.HashToUInt64([], 0));
        Assert.Contains("0x2D06800538D394C2", Page, StringComparison.Ordinal);
        Assert.Contains("XXH3_64bits_withSeed", Page, StringComparison.Ordinal);

        // The codec's checksum is that function over bytes [16, 28 + k + v), the version as the seed.
        var slot = new byte[48];
        EntryCodec.Write(slot, 2, "k1"u8, "hello"u8, EntryFlags.Live);
        Assert.Equal(XxHash3.HashToUInt64(slot.AsSpan(16, 12 + 2 + 5), 2), BinaryPrimitives.ReadUInt64LittleEndian(slot.AsSpan(8)));

        // The page quotes that checksum of the read-reply example's entry as a number too.
        Assert.Equal(0x69DDF7F00D89122BUL, XxHash3.HashToUInt64(slot.AsSpan(16, 12 + 2 + 5), 2));
        Assert.Contains("0x69DDF7F00D89122B", Page, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadReplyExample_IsTheEntryTheCodecWrites_AndValidates()
    {
        byte[] frame = Example("read-reply");
        byte[] payload = frame[16..];

        // Key "k1", value "hello", version 2, in a slot of 48 bytes: the entry the WRITE reply example points at.
        var slot = new byte[48];
        EntryCodec.Write(slot, 2, "k1"u8, "hello"u8, EntryFlags.Live);
        Assert.Equal(Convert.ToHexString(slot), Convert.ToHexString(payload));

        Assert.Equal(EntryStatus.Ok, EntryValidator.Validate(payload, "k1"u8, 0, out ValidatedEntry entry));
        Assert.Equal(2UL, entry.Version);
        Assert.Equal("hello"u8.ToArray(), entry.ValueOf(payload).ToArray());
    }

    [Fact]
    public void ExpiringValueExample_IsThePrefixTheStoreReads()
    {
        byte[] value = Example("expiring-value");
        Assert.True(ValueExpiry.TryRead(value, out long expiresAt));
        Assert.Equal(1_796_205_770_811L, expiresAt);
        Assert.Contains("1,796,205,770,811 ms", Page, StringComparison.Ordinal);
        Assert.Equal("hello"u8.ToArray(), value[ValueExpiry.Size..]);

        // The page's table: magic "MKX1", a zero reserved word, the time; and the never-expiring time it names.
        var written = new byte[ValueExpiry.Size];
        ValueExpiry.Write(written, expiresAt);
        Assert.Equal(value[..ValueExpiry.Size], written);
        Assert.Equal("MKX1"u8.ToArray(), written[..4]);
        ValueExpiry.Write(written, long.MaxValue);
        Assert.Contains(string.Join(' ', written[8..].Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture))), Page, StringComparison.Ordinal);
    }

    private static byte[] Example(string name)
    {
        Match m = Assert.Single(HexBlock().Matches(Page), x => x.Groups["name"].Value == name);
        return Convert.FromHexString(string.Concat(m.Groups["hex"].Value.Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries)));
    }

    private static string LoadPage()
    {
        DirectoryInfo? dir = new(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "docs", "protocol.md")))
        {
            dir = dir.Parent;
        }

        return File.ReadAllText(Path.Combine(dir?.FullName ?? throw new FileNotFoundException("docs/protocol.md not found above the test directory"), "docs", "protocol.md"))
            .Replace("\r\n", "\n", StringComparison.Ordinal);
    }

    // As MirrorKv.Protocol.Tests' ProtocolDocument reads them.
    [GeneratedRegex(@"```hex\n# example: (?<name>[a-z0-9-]+)\n(?<hex>[0-9a-f \n]+)```", RegexOptions.CultureInvariant)]
    private static partial Regex HexBlock();
}
