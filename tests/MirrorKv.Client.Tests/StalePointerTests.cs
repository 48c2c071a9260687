using MirrorKv.Client;

namespace MirrorKv.Client.Tests;

/// <summary>
/// The pointer cache when another client changes an entry behind this one's cached pointer: a deleted key's
/// pointer is forgotten (the read says absent), a relocated value is looked up once and its new pointer cached,
/// and the keys nobody touched keep their pointers and are read without a lookup.
/// </summary>
public class StalePointerTests
{
    [Fact]
    public async Task Get_AfterAnotherClientDeletedTheKey_ReturnsNull_AndForgetsThePointer()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient reader = await pair.ConnectClientAsync();
        MirrorKvClient other = await pair.ConnectClientAsync();
        await reader.SetAsync("gone", "v"u8.ToArray());
        await reader.SetAsync("kept", "w"u8.ToArray());
        Assert.Equal(2, reader.CachedPointers);

        Assert.True(await other.DeleteAsync("gone"));
        Assert.Null(await reader.GetAsync("gone"));
        Assert.Equal(1, reader.CachedPointers);

        long lookups = reader.Stats.Lookups;
        Assert.Equal("w"u8.ToArray(), await reader.GetAsync("kept"));
        Assert.Equal(lookups, reader.Stats.Lookups);
    }

    [Fact]
    public async Task Get_AfterAnotherClientRelocatedTheValue_LooksItUpOnce_ThenReadsOneSidedAgain()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient reader = await pair.ConnectClientAsync();
        MirrorKvClient other = await pair.ConnectClientAsync();
        await reader.SetAsync("k", "small"u8.ToArray());

        // Too big for the old slot: the entry moves, and the old slot is tombstoned under the reader's pointer.
        byte[] big = [.. Enumerable.Range(0, 3000).Select(i => (byte)i)];
        await other.SetAsync("k", big);
        long lookups = reader.Stats.Lookups;
        Assert.Equal(big, await reader.GetAsync("k"));
        Assert.Equal(lookups + 1, reader.Stats.Lookups);

        long reads = reader.Stats.Reads;
        Assert.Equal(big, await reader.GetAsync("k"));
        Assert.Equal(lookups + 1, reader.Stats.Lookups);
        Assert.Equal(reads + 1, reader.Stats.Reads);
        Assert.Equal(1, reader.CachedPointers);
    }
}
