using System.Text;
using MirrorKv.Client;

namespace MirrorKv.Client.Tests;

/// <summary>
/// Pipelined writes (<see cref="MirrorKvClient.SetManyAsync"/>), posted as parts of batch operations: every
/// write is answered and remembered, an error in one does not lose the others, and a failed primary is
/// reported, never taken for success.
/// </summary>
public class BatchWriteTests
{
    private static byte[] Value(string key, int version) => Encoding.UTF8.GetBytes($"{key}#{version}" + new string('x', key.Length * 13 % 150));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task LargeBatch_IsStoredAndReplicated_AndReadOneSidedFromTheLearnedPointers(bool completeOnReceiveThread)
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync(completeOnReceiveThread: completeOnReceiveThread);
        string[] keys = [.. Enumerable.Range(0, 600).Select(i => $"s{i}")];

        // Twice: the second time every write carries its key's pointer as a hint (in-place updates).
        for (int version = 1; version <= 2; version++)
        {
            await client.SetManyAsync(keys, [.. keys.Select(k => (ReadOnlyMemory<byte>)Value(k, version))]);
            Assert.Equal(keys.Length, client.CachedPointers);
            long lookups = client.Stats.Lookups;
            byte[]?[] values = await client.GetManyAsync(keys);
            Assert.Equal(lookups, client.Stats.Lookups);
            for (int i = 0; i < keys.Length; i++)
            {
                Assert.Equal(Value(keys[i], version), values[i]);
            }
        }

        // Acknowledged means applied at the secondary too: all of it is there once the primary is gone.
        pair.Network.Crash(PairFixture.PrimaryAddress);
        byte[]?[] afterCrash = await client.GetManyAsync(keys);
        for (int i = 0; i < keys.Length; i++)
        {
            Assert.Equal(Value(keys[i], 2), afterCrash[i]);
        }
    }

    [Fact]
    public async Task OneWriteRefused_TheOthersAreStored_AndTheErrorIsThrownAfterAllAreAnswered()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync();
        string[] keys = [.. Enumerable.Range(0, 40).Select(i => $"e{i}")];
        ReadOnlyMemory<byte>[] values = [.. keys.Select(k => (ReadOnlyMemory<byte>)Value(k, 1))];
        values[17] = new byte[pair.Primary.Store.Options.EffectiveMaxValueLength + 1];

        MirrorKvException e = await Assert.ThrowsAsync<MirrorKvException>(async () => await client.SetManyAsync(keys, values));
        Assert.Equal(MirrorKvError.ValueTooLarge, e.Error);
        for (int i = 0; i < keys.Length; i++)
        {
            Assert.Equal(i == 17 ? null : Value(keys[i], 1), await client.GetAsync(keys[i]));
        }
    }

    [Fact]
    public async Task PrimaryCrash_BeforeTheAcks_TheWritesAreSentAgainToThePromotedNode()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync(requestTimeout: TimeSpan.FromSeconds(5));
        string[] keys = [.. Enumerable.Range(0, 100).Select(i => $"u{i}")];

        // The primary's answers to this client are lost, then the primary dies once the secondary has every
        // write: none counts as done until the promoted node has taken it again.
        pair.Network.DropBatches((from, to) => from.Equals(pair.Primary.EndPoint) && to.Address.Equals(PairFixture.ClientAddress));
        ulong lsnBefore = pair.Primary.Lsn;
        Task writing = client.SetManyAsync(keys, [.. keys.Select(k => (ReadOnlyMemory<byte>)Value(k, 1))]).AsTask();
        await Waits.UntilAsync(() => pair.Primary.AckedLsn >= lsnBefore + (ulong)keys.Length);
        Assert.False(writing.IsCompleted);
        pair.Network.Crash(PairFixture.PrimaryAddress);

        await writing.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(pair.Secondary.EndPoint, client.PrimaryEndPoint);
        byte[]?[] first = await client.GetManyAsync(keys);
        for (int i = 0; i < keys.Length; i++)
        {
            Assert.Equal(Value(keys[i], 1), first[i]);
        }

        await client.SetManyAsync(keys, [.. keys.Select(k => (ReadOnlyMemory<byte>)Value(k, 2))]);
        byte[]?[] values = await client.GetManyAsync(keys);
        for (int i = 0; i < keys.Length; i++)
        {
            Assert.Equal(Value(keys[i], 2), values[i]);
        }
    }
}
