using System.Buffers;
using System.Text;
using MirrorKv.Client;

namespace MirrorKv.Client.Tests;

/// <summary>
/// Pipelined reads (<see cref="MirrorKvClient.TryGetManyAsync"/>), whose READs go out as parts of batch
/// operations: every key gets its own value, whatever the batch holds and whatever happens to the node.
/// </summary>
public class BatchReadTests
{
    private static byte[] Value(string key, int version) => Encoding.UTF8.GetBytes($"{key}={version}:" + new string('v', key.Length * 7 % 90));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task LargeBatch_WithAbsentDuplicateStaleAndUnknownKeys_ReturnsEachKeysValue(bool completeOnReceiveThread)
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync(completeOnReceiveThread: completeOnReceiveThread);
        MirrorKvClient other = await pair.ConnectClientAsync();
        var expected = new Dictionary<string, byte[]?>();
        for (int i = 0; i < 700; i++)
        {
            expected[$"k{i}"] = Value($"k{i}", 1);
            await client.SetAsync($"k{i}", expected[$"k{i}"]!);
        }

        // Another client changes some values behind this client's cached pointers (some grow: relocated),
        // writes keys this client never saw, and deletes some.
        for (int i = 0; i < 700; i += 7)
        {
            expected[$"k{i}"] = i % 2 == 0 ? Value($"k{i}", 2) : Value($"k{i}", 2).Concat(new byte[200]).ToArray();
            await other.SetAsync($"k{i}", expected[$"k{i}"]!);
        }

        for (int i = 0; i < 50; i++)
        {
            expected[$"new{i}"] = Value($"new{i}", 1);
            await other.SetAsync($"new{i}", expected[$"new{i}"]!);
        }

        for (int i = 3; i < 700; i += 31)
        {
            Assert.True(await other.DeleteAsync($"k{i}"));
            expected[$"k{i}"] = null;
        }

        // More keys than one batch operation holds (256 parts), with repeats and keys never written.
        List<string> keys = [.. expected.Keys, "k1", "k1", "missing-a", "new3", "k14", "missing-b"];
        expected["missing-a"] = null;
        expected["missing-b"] = null;
        keys = [.. keys.OrderBy(k => k.GetHashCode())];

        for (int round = 0; round < 2; round++)
        {
            byte[]?[] values = await client.GetManyAsync(keys);
            for (int i = 0; i < keys.Count; i++)
            {
                Assert.True(Same(expected[keys[i]], values[i]), $"round {round}: {keys[i]}");
            }
        }

        Assert.True(client.Stats.Reads >= 2 * 600, $"only {client.Stats.Reads} one-sided reads");
    }

    [Fact]
    public async Task WritersIntoCallerBuffers_GetTheValueAppended_AndFoundFlags()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync();
        string[] keys = [.. Enumerable.Range(0, 40).Select(i => $"w{i}")];
        foreach (string key in keys.Where((_, i) => i % 4 != 0))
        {
            await client.SetAsync(key, Value(key, 1));
        }

        await client.GetManyAsync(keys);
        var writers = keys.Select(_ => new ArrayBufferWriter<byte>()).ToArray();
        bool[] found = new bool[keys.Length];
        await client.TryGetManyAsync(keys, writers, found);
        for (int i = 0; i < keys.Length; i++)
        {
            Assert.Equal(i % 4 != 0, found[i]);
            Assert.Equal(i % 4 != 0 ? Value(keys[i], 1) : [], writers[i].WrittenSpan.ToArray());
        }
    }

    [Fact]
    public async Task PrimaryCrash_WhileABatchWaitsForItsReplies_EveryKeyIsReadAtTheSecondary()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync(rewriteTable: false, requestTimeout: TimeSpan.FromSeconds(5));
        string[] keys = [.. Enumerable.Range(0, 300).Select(i => $"c{i}")];
        foreach (string key in keys)
        {
            await client.SetAsync(key, Value(key, 1));
        }

        await client.GetManyAsync(keys);
        long readsBefore = client.Stats.Reads;

        // The primary's replies to this client are lost: the batch operations wait until the crash fails them.
        pair.Network.DropBatches((from, to) => from.Equals(pair.Primary.EndPoint) && to.Address.Equals(PairFixture.ClientAddress));
        Task<byte[]?[]> reading = client.GetManyAsync(keys);
        await Waits.UntilAsync(() => client.Stats.Reads >= readsBefore + keys.Length);
        Assert.False(reading.IsCompleted);
        pair.Network.Crash(PairFixture.PrimaryAddress);

        byte[]?[] values = await reading.WaitAsync(TimeSpan.FromSeconds(10));
        for (int i = 0; i < keys.Length; i++)
        {
            Assert.Equal(Value(keys[i], 1), values[i]);
        }

        Assert.True(client.Stats.RetriedAfterFailure >= 1);
        Assert.True(client.Stats.FailoverReads >= keys.Length, $"{client.Stats.FailoverReads} FAILOVER_READs");
    }

    private static bool Same(byte[]? a, byte[]? b) => a is null ? b is null : b is not null && a.AsSpan().SequenceEqual(b);
}
