using MirrorKv.Client;

namespace MirrorKv.Client.Tests;

/// <summary>
/// A read whose tries fail (no answer, a connection lost or refused, a node that refuses for a moment) keeps
/// trying for the promotion wait, as a write does, however many quick failures that takes: only answers that
/// show the value changing count toward the read's attempts (<see cref="ReadRetries"/>). Seen in CI: a brief
/// fence of the primary while a flood held every connection slot ended a read with "No valid entry for the key
/// after 16 attempts" though the pair served again within 20 ms.
/// </summary>
public class ReadRetryTests
{
    [Fact]
    public async Task Failures_DoNotUseTheAttempts_AndAreRetriedUntilThePromotionWait()
    {
        // More quick failures than a read has attempts: none is counted, none ends the read within the wait.
        var retries = new ReadRetries(TimeSpan.FromSeconds(5));
        for (int i = 0; i < 20; i++)
        {
            retries.Failed($"refusal {i}");
            await retries.BackOffAsync(CancellationToken.None);
        }

        Assert.Equal(0, retries.Attempts);
        Assert.Equal(20, retries.Failures);

        // Failures that outlast the wait end it, naming the last.
        var brief = new ReadRetries(TimeSpan.FromMilliseconds(100));
        brief.Failed("refused: first");
        brief.Failed("refused: second");
        await Task.Delay(150);
        brief.Failed("refused: third");
        MirrorKvException gaveUp = await Assert.ThrowsAsync<MirrorKvException>(async () => await brief.BackOffAsync(CancellationToken.None));
        Assert.Equal(MirrorKvError.Unavailable, gaveUp.Error);
        Assert.Contains("3 failures in a row; last: refused: third", gaveUp.Message);
    }

    [Fact]
    public async Task AnAnswer_EndsTheRunOfFailures_AndCountsAsAnAttempt()
    {
        var retries = new ReadRetries(TimeSpan.FromMilliseconds(50));
        retries.Failed("first");
        retries.Failed("second");
        await Task.Delay(80);
        retries.Answered(torn: true);
        retries.Answered(torn: false);
        retries.Failed("third");

        // One failure since the last answer: retried at once, whatever the time.
        await retries.BackOffAsync(CancellationToken.None);
        Assert.Equal(2, retries.Attempts);
        Assert.Equal(1, retries.Failures);
        Assert.Equal("1 torn, 1 stale or moved, 3 failed or refused, last: third", retries.Describe());
    }

    [Fact]
    public async Task CachedRead_WhileTheClientIsCutOffFromBothNodesForMoreThanItsAttemptsTake_WaitsAndReturnsTheValue()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        await using MirrorKvClient client = await ConnectWithACachedKeyAsync(pair, promotionWait: TimeSpan.FromSeconds(10));

        // Black holes both ways to both nodes for longer than 16 request timeouts: every try of the read fails.
        CutClient(pair, cut: true);
        Task<byte[]?> read = client.GetAsync("k").AsTask();
        await Task.Delay(TimeSpan.FromMilliseconds(16 * 60 * 2));
        Assert.False(read.IsCompleted, read.IsFaulted ? read.Exception!.InnerException!.Message : "the read completed while no node could answer");
        CutClient(pair, cut: false);

        Assert.Equal("v1"u8.ToArray(), await read.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task CachedRead_WhenNoNodeAnswersForLongerThanThePromotionWait_FailsUnavailableWithTheLastFailure()
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        await using MirrorKvClient client = await ConnectWithACachedKeyAsync(pair, promotionWait: TimeSpan.FromMilliseconds(700));

        CutClient(pair, cut: true);
        var started = System.Diagnostics.Stopwatch.StartNew();
        MirrorKvException failed = await Assert.ThrowsAsync<MirrorKvException>(async () => await client.GetAsync("k"));
        CutClient(pair, cut: false);

        Assert.Equal(MirrorKvError.Unavailable, failed.Error);
        Assert.True(started.Elapsed >= TimeSpan.FromMilliseconds(700), $"gave up after {started.ElapsedMilliseconds} ms, before the promotion wait: {failed.Message}");
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(8), $"took {started.ElapsedMilliseconds} ms to give up");
    }

    // A client with short timeouts that has written "k" and read it back (so it holds the key's pointer).
    private static async Task<MirrorKvClient> ConnectWithACachedKeyAsync(PairFixture pair, TimeSpan promotionWait)
    {
        MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions
        {
            EndPoints = [pair.Primary.EndPoint],
            Transport = pair.Network.CreateTransport(PairFixture.ClientAddress),
            RequestTimeout = TimeSpan.FromMilliseconds(60),
            ConnectTimeout = TimeSpan.FromMilliseconds(60),
            PromotionWait = promotionWait,
        });
        Assert.True(await client.WaitForSecondaryAsync());
        await client.SetAsync("k", "v1"u8.ToArray());
        Assert.Equal("v1"u8.ToArray(), await client.GetAsync("k"));
        return client;
    }

    private static void CutClient(PairFixture pair, bool cut)
    {
        foreach (System.Net.IPAddress node in new[] { PairFixture.PrimaryAddress, PairFixture.SecondaryAddress })
        {
            if (cut)
            {
                pair.Network.Cut(PairFixture.ClientAddress, node);
                pair.Network.Cut(node, PairFixture.ClientAddress);
            }
            else
            {
                pair.Network.Restore(PairFixture.ClientAddress, node);
                pair.Network.Restore(node, PairFixture.ClientAddress);
            }
        }
    }
}
