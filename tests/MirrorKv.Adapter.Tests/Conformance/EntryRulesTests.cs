using System.Buffers.Binary;
using System.Text;
using MirrorKv.Client;
using MirrorKv.Entries;
using MirrorKv.Memory;
using MirrorKv.Protocol.Tests;
using MirrorKv.Store;

namespace MirrorKv.Adapter.Tests.Conformance;

/// <summary>
/// docs/protocol.md, "Validating a READ": each step of the table, broken alone, gets the action the table
/// gives it from the validator clients use; and the reference client's retries are bounded as "Limits" says.
/// </summary>
public class EntryRulesTests
{
    private const int SlotSize = 64;
    private static readonly byte[] Key = "key"u8.ToArray();

    /// <summary>For each step: a slot copy (and the key and version the reader expects) that fails that step first.</summary>
    private static readonly Dictionary<int, Func<(byte[] Copy, byte[] Key, ulong MinVersion)>> BreakStep = new()
    {
        [1] = () => (Valid()[..27], Key, 0),
        [2] = () => (With(Valid(), s => BinaryPrimitives.WriteUInt64LittleEndian(s, 11)), Key, 0),
        [3] = () => (new byte[SlotSize], Key, 0),
        [4] = () => (With(Valid(), s => BinaryPrimitives.WriteUInt32LittleEndian(s[16..], SlotSize * 2)), Key, 0),
        [5] = () => (With(Valid(), s => BinaryPrimitives.WriteUInt32LittleEndian(s[20..], uint.MaxValue)), Key, 0),
        [6] = () => (With(Valid(), s => BinaryPrimitives.WriteUInt16LittleEndian(s[24..], 0)), Key, 0),
        [7] = () => (With(Valid(), s => s[27] = 1), Key, 0),
        [8] = () => (With(Valid(), s => s[26] = 3), Key, 0),
        [9] = () => (With(Valid(), s => s[28 + 3] ^= 0xff), Key, 0),
        [10] = () => (Valid(EntryFlags.Tombstone), Key, 0),
        [11] = () => (Valid(), "yek"u8.ToArray(), 0),
        [12] = () => (Valid(), Key, 12),
        [13] = () => (Valid(), Key, 10),
    };

    [Fact]
    public void EachStep_BrokenAlone_GetsTheActionTheTableGives()
    {
        IReadOnlyList<string[]> rows = ProtocolDocument.Table("Validating a READ", "step");
        Assert.Equal(BreakStep.Keys.Order(), rows.Select(r => int.Parse(r[0], System.Globalization.CultureInfo.InvariantCulture)));
        foreach (string[] row in rows)
        {
            (byte[] copy, byte[] key, ulong minVersion) = BreakStep[int.Parse(row[0], System.Globalization.CultureInfo.InvariantCulture)]();
            string documented = row[2].StartsWith("accept", StringComparison.Ordinal) ? "accept" : row[2].Contains("look up", StringComparison.Ordinal) ? "look up" : row[2].Contains("retry", StringComparison.Ordinal) ? "retry" : row[2];
            EntryStatus status = EntryValidator.Validate(copy, key, minVersion, out ValidatedEntry entry);
            string done = status switch
            {
                EntryStatus.Ok => "accept",
                EntryStatus.Torn or EntryStatus.Corrupt => "retry",
                EntryStatus.Deleted or EntryStatus.ForeignKey or EntryStatus.Stale => "look up",
                _ => status.ToString(),
            };
            Assert.True(documented == done, $"step {row[0]} ({row[1]}): the table says {row[2]}, the validator says {status}");
            if (status == EntryStatus.Ok)
            {
                Assert.Equal("value"u8.ToArray(), entry.ValueOf(copy).ToArray());
            }
        }
    }

    [Fact]
    public async Task Client_FacingASlotThatStaysTorn_AsksForTheValueWithGetAfterTheDocumentedRetries()
    {
        IReadOnlyList<string[]> limits = ProtocolDocument.Table("Limits", "limit");
        int retries = (int)Assert.Single(ProtocolDocument.Numbers(ProtocolDocument.Row(limits, "READs retried at once")[1]));
        int reads = (int)Assert.Single(ProtocolDocument.Numbers(ProtocolDocument.Row(limits, "READs per read before")[1]));
        Assert.Equal(retries, new MirrorKvClientOptions { EndPoints = [new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 1)] }.TornReadRetries);

        await using TcpPair node = await TcpPair.StartPrimaryAsync();
        await node.Client.SetAsync("stuck", Encoding.UTF8.GetBytes("a value"));
        Assert.True(node.Primary.Store.TryLookup("stuck"u8, out RemotePointer pointer, out ulong version));

        // An odd version that never turns even: a writer that died mid-write, as far as readers can tell.
        Span<byte> slot = node.Primary.Store.SpanAt(pointer);
        BinaryPrimitives.WriteUInt64LittleEndian(slot, version + 1);

        // The first READ and its retries use the pointer the write cached; then the client asks the node for the
        // value (GET, protocol 1.2), which the node reads under its lock: the read ends there, well inside the bound.
        ClientStats before = node.Client.Stats;
        Assert.Equal("a value"u8.ToArray(), await node.Client.GetAsync("stuck"));
        ClientStats after = node.Client.Stats;
        Assert.Equal(1 + retries, after.Reads - before.Reads);
        Assert.True(1 + retries < reads);
        Assert.Equal(retries, after.TornRetries - before.TornRetries);
        Assert.Equal(1, after.Lookups - before.Lookups);
    }

    private static byte[] Valid(EntryFlags flags = EntryFlags.Live)
    {
        var slot = new byte[SlotSize];
        EntryCodec.Write(slot, 10, Key, "value"u8, flags);
        return slot;
    }

    private static byte[] With(byte[] slot, SpanAction change)
    {
        change(slot);
        return slot;
    }

    private delegate void SpanAction(Span<byte> slot);
}
