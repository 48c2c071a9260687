using MirrorKv.Linearizability;

namespace MirrorKv.Linearizability.Tests;

/// <summary>
/// The windowed recorder of long runs: each window is checked from the state the earlier ones left, with operations
/// that run across a cut and unknown writes carried, so that a good history passes in every window and a stale read
/// is caught in the window it happens in.
/// </summary>
public class RollingHistoryTests
{
    [Fact]
    public void StaleReadInALaterWindow_IsAViolation_MinimizedToTheWriteItMissed()
    {
        var history = new RollingHistory(_ => 0);
        Ok(history, history.InvokeWrite("k", 1));
        Assert.True(history.CheckWindow().IsLinearizable);

        // The next window starts from 1: a read of the initial 0 is stale.
        Ok(history, history.InvokeRead("k"), 0);
        CheckReport window = history.CheckWindow();
        Assert.Equal(1, window.Violations);
        Assert.Equal(1, history.Violations);
        Assert.NotNull(history.FirstViolation);
    }

    [Fact]
    public void OperationsRunningAcrossTheCut_AndUnknownWrites_AreCarried_SoAGoodHistoryPassesEveryWindow()
    {
        var history = new RollingHistory(_ => 0);
        Ok(history, history.InvokeWrite("k", 1));
        long lost = history.InvokeWrite("k", 2);
        history.Complete(lost, Outcome.Unknown);
        long running = history.InvokeWrite("k", 3);
        long reader = history.InvokeRead("k");
        Assert.True(history.CheckWindow().IsLinearizable);

        // The unknown write of 2 took effect late (after the cut), the running write of 3 later still.
        Ok(history, history.InvokeRead("k"), 2);
        Ok(history, running);
        Ok(history, reader, 3);
        Assert.True(history.CheckWindow().IsLinearizable, history.Totals.ToText());
        Ok(history, history.InvokeRead("k"), 3);
        Assert.True(history.CheckWindow().IsLinearizable, history.Totals.ToText());
        Assert.Equal(0, history.Violations);
        Assert.Equal(6, history.Operations);
    }

    [Fact]
    public void ReadRunningAcrossTheCut_MayReturnAnOkWriteOverwrittenBeforeTheCut()
    {
        var history = new RollingHistory(_ => null);
        long reader = history.InvokeRead("k");
        Ok(history, history.InvokeWrite("k", 1));
        Ok(history, history.InvokeWrite("k", 2));
        Assert.True(history.CheckWindow().IsLinearizable);

        // The read was answered between the two writes: linearizable, though 2 was the last Ok write before the cut.
        Ok(history, reader, 1);
        Assert.True(history.CheckWindow().IsLinearizable, history.Totals.ToText());

        // The carried writes leave once nothing running overlaps them: a later read of 1 is stale.
        Ok(history, history.InvokeRead("k"), 1);
        Assert.False(history.CheckWindow().IsLinearizable);
        Assert.Equal(1, history.Violations);
    }

    [Fact]
    public async Task LockedRegisterFromManyThreads_CheckedInManyWindows_HasNoViolation()
    {
        var history = new RollingHistory(_ => null);
        var gate = new Lock();
        long? register = null;
        using var stop = new CancellationTokenSource();
        int windows = 0;
        long operations = 0;
        Task[] workers = [.. Enumerable.Range(0, 4).Select(p => Task.Run(() =>
        {
            // At least 2,000 operations each, and on until the checker has closed a few windows meanwhile: a machine
            // that ran the workers through before the checker's first window was closed (seen in CI) proves nothing.
            for (int i = 0; i < 2_000 || Volatile.Read(ref windows) < 3; i++)
            {
                Interlocked.Increment(ref operations);
                if (i % 100 == 0)
                {
                    // Long enough a run for the checker below to close windows while it goes on; and no further than
                    // 20,000 operations ahead of it, so that a starved checker does not face one unbounded window.
                    Thread.Sleep(1);
                    while (i / 20_000 > Volatile.Read(ref windows))
                    {
                        Thread.Sleep(1);
                    }
                }

                long id;
                if (p == 0 && i % 2 == 0)
                {
                    id = history.InvokeWrite("k", i);
                    lock (gate)
                    {
                        register = i;
                    }

                    history.Complete(id, Outcome.Ok);
                    continue;
                }

                id = history.InvokeRead("k");
                long? seen;
                lock (gate)
                {
                    seen = register;
                }

                history.Complete(id, Outcome.Ok, seen);
            }
        }))];
        while (!workers.All(w => w.IsCompleted))
        {
            Assert.True(history.CheckWindow().IsLinearizable, history.Totals.ToText());
            Interlocked.Increment(ref windows);
            await Task.Yield();
        }

        await Task.WhenAll(workers);
        Assert.True(history.CheckWindow().IsLinearizable, history.Totals.ToText());
        Assert.Equal(Interlocked.Read(ref operations), history.Operations);
        Assert.True(history.Operations >= 8_000);
        Assert.True(windows >= 3);
    }

    private static void Ok(RollingHistory history, long id, long? read = null) => history.Complete(id, Outcome.Ok, read);
}
