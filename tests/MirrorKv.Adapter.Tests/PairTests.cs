using System.Text;
using MirrorKv.Adapter;
using MirrorKv.Client;
using MirrorKv.Entries;
using MirrorKv.Memory;
using MirrorKv.Protocol;
using MirrorKv.Store;

namespace MirrorKv.Adapter.Tests;

/// <summary>The node pair end to end over the in-process transport: replication, translation, failover reads.</summary>
public class PairTests
{
    [Fact]
    public async Task SetAsync_ThenGetAsync_ReturnsValueReadOneSided()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync();

        await client.SetAsync("alpha", "one"u8.ToArray());

        Assert.Equal("one"u8.ToArray(), await client.GetAsync("alpha"));
        Assert.Null(await client.GetAsync("missing"));
        Assert.Equal(1, client.Stats.Reads);
        Assert.Equal(1, client.Stats.Lookups);
    }

    [Fact]
    public async Task SetAsync_SyncMode_SecondaryHoldsSameBytesAtTranslatedAddress()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync();
        var values = new Dictionary<string, byte[]>();
        for (int i = 0; i < 300; i++)
        {
            values[$"key-{i}"] = Encoding.UTF8.GetBytes(new string((char)('a' + (i % 26)), 1 + (i * 37 % 3000)));
            await client.SetAsync($"key-{i}", values[$"key-{i}"]);
        }

        TranslationSnapshot translation = pair.Secondary.Store.Translation!.Current;
        Assert.True(translation.CountDistinctDeltas() >= 2, "secondary must use at least two distinct slab deltas");
        foreach ((string key, byte[] value) in values)
        {
            Assert.True(pair.Primary.Store.TryLookup(Encoding.UTF8.GetBytes(key), out RemotePointer primary, out _));
            RemotePointer local = translation.Translate(primary);
            Assert.NotEqual(primary.Address, local.Address);
            Span<byte> slot = pair.Secondary.Store.SpanAt(local);
            Assert.Equal(EntryStatus.Ok, EntryValidator.Validate(slot, Encoding.UTF8.GetBytes(key), 0, out ValidatedEntry entry));
            Assert.Equal(value, entry.ValueOf(slot).ToArray());
        }

        Assert.Equal(pair.Primary.Lsn, pair.Secondary.Lsn);
    }

    [Fact]
    public async Task PrimaryCrash_ReadsContinueThroughFailoverReadThenRewrittenTable()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync();
        for (int i = 0; i < 200; i++)
        {
            await client.SetAsync($"k{i}", Encoding.UTF8.GetBytes($"value-{i}"));
        }

        pair.Network.Crash(PairFixture.PrimaryAddress);
        for (int i = 0; i < 200; i++)
        {
            Assert.Equal(Encoding.UTF8.GetBytes($"value-{i}"), await client.GetAsync($"k{i}"));
        }

        Assert.NotEqual(ClientPath.Primary, client.Path);
        await Waits.UntilAsync(() => client.Path == ClientPath.Secondary, "the client to read from the secondary with its rewritten table");
        long failoverReads = client.Stats.FailoverReads;
        for (int i = 0; i < 200; i++)
        {
            Assert.Equal(Encoding.UTF8.GetBytes($"value-{i}"), await client.GetAsync($"k{i}"));
        }

        Assert.Equal(failoverReads, client.Stats.FailoverReads);
        Assert.Equal(1, client.Stats.TableRewrites);
    }

    [Fact]
    public async Task PrimaryCrash_WithoutRewrite_EveryReadIsFailoverRead()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync(rewriteTable: false);
        for (int i = 0; i < 50; i++)
        {
            await client.SetAsync($"k{i}", Encoding.UTF8.GetBytes($"value-{i}"));
        }

        pair.Network.Crash(PairFixture.PrimaryAddress);
        for (int i = 0; i < 50; i++)
        {
            Assert.Equal(Encoding.UTF8.GetBytes($"value-{i}"), await client.GetAsync($"k{i}"));
        }

        Assert.True(client.Stats.FailoverReads >= 50);
        Assert.Equal(ClientPath.FailingOver, client.Path);
    }

    [Fact]
    public async Task UpdateAndDelete_AreReplicatedAndVisibleAtSecondaryAfterCrash()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync();
        await client.SetAsync("grow", "small"u8.ToArray());
        await client.SetAsync("grow", new byte[2000]);
        await client.SetAsync("same", "aaaa"u8.ToArray());
        await client.SetAsync("same", "bbbb"u8.ToArray());
        await client.SetAsync("gone", "x"u8.ToArray());
        Assert.True(await client.DeleteAsync("gone"));
        Assert.False(await client.DeleteAsync("gone"));

        pair.Network.Crash(PairFixture.PrimaryAddress);
        Assert.Equal(new byte[2000], await client.GetAsync("grow"));
        Assert.Equal("bbbb"u8.ToArray(), await client.GetAsync("same"));
        Assert.Null(await client.GetAsync("gone"));
    }

    [Fact]
    public async Task Connect_ToTheSecondaryOnly_FollowsItToThePrimary_AndWritesThere()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        await using MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions
        {
            EndPoints = [pair.Secondary.EndPoint],
            Transport = pair.Network.CreateTransport(PairFixture.ClientAddress),
        });
        Assert.Equal(pair.Primary.EndPoint, client.PrimaryEndPoint);
        Assert.Contains(pair.Primary.EndPoint, client.KnownEndPoints);
        await client.SetAsync("k", "v"u8.ToArray());
        Assert.Equal("v"u8.ToArray(), await client.GetAsync("k"));
    }

    [Fact]
    public async Task Connect_WhenNoNodeAnswers_IsUnavailable_NamingEachEndPoint()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        var nobody = new System.Net.IPEndPoint(System.Net.IPAddress.Parse("10.9.9.9"), 7400);
        MirrorKvException e = await Assert.ThrowsAsync<MirrorKvException>(() => MirrorKvClient.ConnectAsync(new MirrorKvClientOptions
        {
            EndPoints = [nobody],
            Transport = pair.Network.CreateTransport(PairFixture.ClientAddress),
            ConnectTimeout = TimeSpan.FromMilliseconds(200),
        }));
        Assert.Equal(MirrorKvError.Unavailable, e.Error);
        Assert.Contains("10.9.9.9:7400", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SyncWrite_WaitsForSecondaryAck()
    {
        await using PairFixture pair = await PairFixture.StartAsync();

        // Replies complete in the order they arrive, so a reply to the write that came first is seen first.
        MirrorKvClient client = await pair.ConnectClientAsync(completeOnReceiveThread: true);
        await client.SetAsync("before", "1"u8.ToArray());
        pair.Network.Partition(PairFixture.PrimaryAddress, PairFixture.SecondaryAddress);

        ValueTask set = client.SetAsync("held", "v"u8.ToArray());

        // A later request on the same connection, which the primary answers alone (a one-sided READ): once its reply
        // is in, the primary has handled the write (frames are served in order) and would have answered it by now,
        // were it not waiting for the secondary's ack.
        Assert.Equal("1"u8.ToArray(), await client.GetAsync("before"));
        Assert.Equal(2UL, pair.Primary.Lsn);
        Assert.False(set.IsCompleted, "a sync write must not be acknowledged before the secondary applied it");
        Assert.Equal(1UL, pair.Secondary.Lsn);
        _ = set.AsTask();
    }
}
