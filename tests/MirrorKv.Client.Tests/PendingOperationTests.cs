using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.Client.Tests;

/// <summary>
/// A batch operation (one completion for many work requests): it completes when its last part is in, in
/// whatever order the parts come, refuses replies that are not its own, and a failure racing the receive
/// thread either wins whole or loses whole.
/// </summary>
public class PendingOperationTests
{
    private static byte[] Payload(int part) => Enumerable.Range(0, 10 + part * 37 % 300).Select(i => (byte)(i ^ part)).ToArray();

    private static (uint Generation, int Part) Parse(ulong requestId) => ((uint)(requestId >> 32), (int)((uint)requestId >> 24));

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(17)]
    [InlineData(PendingOperation.MaxParts)]
    public async Task Batch_CompletesOnItsLastPart_InAnyOrder_WithEveryPartsReply(int parts)
    {
        var op = new PendingOperation(5);
        op.Start(long.MaxValue, parts);
        int[] order = Enumerable.Range(0, parts).OrderBy(_ => Random.Shared.Next()).ToArray();
        ValueTask<int> completion = op.AsValueTask();
        foreach (int part in order)
        {
            Assert.False(completion.IsCompleted);
            (uint generation, int parsed) = Parse(op.PartRequestId(part));
            Assert.Equal(part, parsed);
            Assert.Equal(5UL, op.PartRequestId(part) & (PendingOperation.MaxOperations - 1));
            Assert.True(op.TryComplete(generation, parsed, part % 3 == 0 ? WireStatus.PastEnd : WireStatus.Ok, Payload(part)));
        }

        await completion;
        Assert.False(op.Faulted);
        for (int part = 0; part < parts; part++)
        {
            Assert.Equal(part % 3 == 0 ? WireStatus.PastEnd : WireStatus.Ok, op.PartStatus(part));
            Assert.Equal(Payload(part), op.PartPayload(part).ToArray());
        }
    }

    [Fact]
    public async Task Batch_RefusesDuplicateForeignAndStaleReplies()
    {
        var op = new PendingOperation(0);
        op.Start(long.MaxValue, 1);
        uint stale = op.Generation;
        op.Release();
        op.Start(long.MaxValue, 3);
        ValueTask<int> completion = op.AsValueTask();
        uint generation = op.Generation;

        Assert.False(op.TryComplete(stale, 0, WireStatus.Ok, [9]));
        Assert.True(op.TryComplete(generation, 1, WireStatus.Ok, [1]));
        Assert.False(op.TryComplete(generation, 1, WireStatus.Ok, [2]));
        Assert.False(op.TryComplete(generation, 3, WireStatus.Ok, [3]));
        Assert.False(op.TryComplete(generation, PendingOperation.MaxParts - 1, WireStatus.Ok, [4]));
        Assert.True(op.TryComplete(generation, 0, WireStatus.Ok, [0]));
        Assert.False(completion.IsCompleted);
        Assert.True(op.TryComplete(generation, 2, WireStatus.Ok, [5]));
        await completion;

        Assert.Equal([1], op.PartPayload(1).ToArray());
        Assert.Equal([0], op.PartPayload(0).ToArray());
        Assert.Equal([5], op.PartPayload(2).ToArray());
        Assert.False(op.TryComplete(generation, 0, WireStatus.Ok, [6]));
    }

    [Fact]
    public async Task SingleOperation_RefusesAPartNumber()
    {
        var op = new PendingOperation(0);
        op.Start(long.MaxValue);
        ValueTask<int> completion = op.AsValueTask();
        Assert.False(op.TryComplete(op.Generation, 1, WireStatus.Ok, [1]));
        Assert.True(op.TryComplete(op.Generation, 0, WireStatus.Ok, [7, 8]));
        Assert.Equal(2, await completion);
        Assert.Equal([7, 8], op.Payload.ToArray());
    }

    [Fact]
    public async Task Batch_FailedWithPartsMissing_IsFaulted_AndLaterPartsAreRefused()
    {
        var op = new PendingOperation(0);
        op.Start(long.MaxValue, 4);
        ValueTask<int> completion = op.AsValueTask();
        Assert.True(op.TryComplete(op.Generation, 0, WireStatus.Ok, [1]));
        Assert.True(op.IsInFlight);
        Assert.True(op.TryFail(new TimeoutException("late")));
        Assert.False(op.IsInFlight);
        Assert.False(op.TryComplete(op.Generation, 1, WireStatus.Ok, [2]));
        await Assert.ThrowsAsync<TimeoutException>(async () => await completion);
        Assert.True(op.Faulted);
        Assert.False(op.TryFail(new TimeoutException("twice")));
    }

    [Fact]
    public async Task Batch_FailureRacingTheReceiveThread_EitherGetsEveryPartOrFails()
    {
        // The receive thread copies parts in while another thread (the timeout scan, a close) fails the
        // operation: the awaiter sees either all the replies intact or the failure, never a mix.
        const int parts = 64;
        int completed = 0, failed = 0;
        var op = new PendingOperation(0);
        for (int round = 0; round < 2000; round++)
        {
            op.Start(long.MaxValue, parts);
            uint generation = op.Generation;
            ValueTask<int> completion = op.AsValueTask();
            using var go = new Barrier(2);
            var receive = Task.Run(() =>
            {
                go.SignalAndWait();
                for (int part = 0; part < parts; part++)
                {
                    op.TryComplete(generation, part, WireStatus.Ok, Payload(part));
                }
            });
            var fail = Task.Run(() =>
            {
                go.SignalAndWait();
                Thread.SpinWait(round % 50 * 20);
                op.TryFail(new TimeoutException("overdue"));
            });
            try
            {
                await completion;
                completed++;
                Assert.False(op.Faulted);
                for (int part = 0; part < parts; part++)
                {
                    Assert.Equal(Payload(part), op.PartPayload(part).ToArray());
                }
            }
            catch (TimeoutException)
            {
                failed++;
                Assert.True(op.Faulted);
            }

            await Task.WhenAll(receive, fail);
            op.Release();
        }

        Assert.Equal(2000, completed + failed);
        Assert.True(failed > 0, "the failure never won the race");
    }

    [Fact]
    public async Task Release_RacingALateReply_LeavesTheNextUseWaitingForItsOwnReply()
    {
        // A caller that gives up on an operation returns it while its reply may be arriving: the reply of the
        // old generation must not land in (or complete) the operation's next use.
        var op = new PendingOperation(0);
        byte[] late = Payload(99);
        for (int round = 0; round < 2000; round++)
        {
            bool batch = round % 2 == 0;
            if (batch)
            {
                op.Start(long.MaxValue, 2);
            }
            else
            {
                op.Start(long.MaxValue);
            }

            uint old = op.Generation;
            var reply = Task.Run(() => op.TryComplete(old, 0, WireStatus.Ok, late));
            Thread.SpinWait(round % 40 * 10);
            op.Release();
            op.Start(long.MaxValue);
            await reply;

            Assert.True(op.IsInFlight, $"round {round}: the next use was completed by the old reply");
            ValueTask<int> next = op.AsValueTask();
            Assert.False(next.IsCompleted);
            Assert.True(op.TryComplete(op.Generation, 0, WireStatus.Ok, [1, 2, 3]));
            Assert.Equal(3, await next);
            Assert.Equal([1, 2, 3], op.Payload.ToArray());
            op.Release();
        }
    }
}
