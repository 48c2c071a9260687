using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.Client.Tests;

/// <summary>
/// A read of a key the client has no pointer for needs a LOOKUP, and a LOOKUP needs a node that serves:
/// while neither does (the primary fenced for a pause of its secondary, the frozen secondary not answering),
/// the read waits for the pair the way a write does, instead of failing after a few quick refusals.
/// </summary>
public class LookupWaitTests
{
    [Fact]
    public async Task UncachedRead_WhileThePrimaryIsFencedAndTheSecondaryFrozen_WaitsAndReturnsTheValue()
    {
        await using MemberPair pair = await MemberPair.StartAsync();
        await using MirrorKvClient client = await FencePrimaryWithAnUncachedKeyAsync(pair, requestTimeout: TimeSpan.FromMilliseconds(400), promotionWait: TimeSpan.FromSeconds(10));

        // The fenced primary's answers to the clients (its refusal, then its replies to the client's rounds of asking
        // who the primary is), counted on the network, which drops nothing here.
        System.Net.IPEndPoint fenced = pair.A.Node.EndPoint;
        int answers = 0;
        pair.Network.DropBatches((from, to) =>
        {
            if (from.Equals(fenced) && to.Address.Equals(PairFixture.ClientAddress))
            {
                Interlocked.Increment(ref answers);
            }

            return false;
        });
        Task<byte[]?> read = client.GetAsync("k").AsTask();

        // More answers than the old client took before it gave up (its fourth refusal): the read still waits.
        await Waits.UntilAsync(() => Volatile.Read(ref answers) > 4 || read.IsCompleted, "five answers of the fenced primary while the read waits");
        pair.Network.DropBatches(null);
        Assert.False(read.IsCompleted, read.IsFaulted ? read.Exception!.InnerException!.Message : "the read completed while no node served");
        pair.Network.Thaw(PairFixture.SecondaryAddress);

        byte[]? value = await read.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("v1"u8.ToArray(), value);
    }

    [Fact]
    public async Task UncachedRead_WhenNoNodeServesForLongerThanThePromotionWait_FailsUnavailable()
    {
        await using MemberPair pair = await MemberPair.StartAsync();
        await using MirrorKvClient client = await FencePrimaryWithAnUncachedKeyAsync(pair, requestTimeout: TimeSpan.FromMilliseconds(300), promotionWait: TimeSpan.FromMilliseconds(800));
        MirrorKvException refused = await Assert.ThrowsAsync<MirrorKvException>(async () => await client.GetAsync("k"));
        Assert.Equal(MirrorKvError.Unavailable, refused.Error);
        pair.Network.Thaw(PairFixture.SecondaryAddress);
    }

    /// <summary>
    /// Writes "k" through another client (so this one caches no pointer for it), connects a client with
    /// these timeouts, then freezes the secondary until the primary fences: no node serves.
    /// </summary>
    private static async Task<MirrorKvClient> FencePrimaryWithAnUncachedKeyAsync(MemberPair pair, TimeSpan requestTimeout, TimeSpan promotionWait)
    {
        MirrorKvClient writer = await pair.ConnectClientAsync();
        await writer.SetAsync("k", "v1"u8.ToArray());
        MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions
        {
            EndPoints = [pair.A.Node.EndPoint],
            Transport = pair.Network.CreateTransport(PairFixture.ClientAddress),
            RequestTimeout = requestTimeout,
            PromotionWait = promotionWait,
        });
        Assert.True(await client.WaitForSecondaryAsync());

        pair.Network.Freeze(PairFixture.SecondaryAddress);
        await Waits.UntilAsync(() => pair.A.Node.Role == NodeRole.Fenced, "the primary to stop serving once its lease ran out");
        return client;
    }
}
