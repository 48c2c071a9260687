namespace MirrorKv.Adapter.Tests.Cluster;

/// <summary>
/// The write drain of a moving slot: a drain waits for every write that may have checked an older view, and only
/// for those; under racing writers no write that passed its check under the old view lands after the drain.
/// </summary>
public class WriteDrainTests
{
    // True once a drain has flipped the generation away from the one writes entered under: a new write enters the
    // other (the probe exits at once).
    private static bool HasFlipped(WriteDrain drain, int enteredUnder)
    {
        int probe = drain.Enter();
        drain.Exit(probe);
        return probe != enteredUnder;
    }

    [Fact]
    public async Task Drain_WaitsForAWriteInFlight_AndReturnsOnceItExits()
    {
        var drain = new WriteDrain();
        int token = drain.Enter();
        Task drained = Task.Run(drain.Drain);
        await Waits.UntilAsync(() => HasFlipped(drain, token), "the drain to start");

        // Nothing marks a drain that keeps waiting, so it gets a short while to return wrongly.
        await Task.Delay(100);
        Assert.False(drained.IsCompleted, "the drain returned while a write counted before it was in flight");
        drain.Exit(token);
        await drained.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, drain.InFlight);
    }

    [Fact]
    public async Task Drain_DoesNotWaitForWritesThatEnterAfterIt()
    {
        var drain = new WriteDrain();
        drain.Drain();
        int later = drain.Enter();

        // A write that entered after the flip read the newer view: a second drain flips back and does not wait for it
        // only if it is in the generation the drain leaves current; either way the write exits and nothing hangs.
        Task second = Task.Run(drain.Drain);
        await Waits.UntilAsync(() => HasFlipped(drain, later), "the second drain to start");
        drain.Exit(later);
        await second.WaitAsync(TimeSpan.FromSeconds(10));
        Task third = Task.Run(drain.Drain);
        await third.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Drain_UnderRacingWriters_NoWriteThatSawTheOldViewLandsAfterIt()
    {
        // Writers: enter, read the fence, "land" (count) when it is down, exit. The drainer raises the fence, drains,
        // and takes the count: it must never grow afterwards. Many rounds, fences raised again and again.
        var drain = new WriteDrain();
        int fence = 0;
        long landed = 0;
        using var stop = new CancellationTokenSource();
        Task[] writers = [.. Enumerable.Range(0, Math.Max(2, Environment.ProcessorCount)).Select(_ => Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                int token = drain.Enter();
                int seen = Volatile.Read(ref fence);
                if ((seen & 1) == 0)
                {
                    Thread.SpinWait(20);
                    Interlocked.Increment(ref landed);
                }

                drain.Exit(token);
            }
        }))];

        // On a loaded machine the pool may start the writers late: the rounds race them only once they run.
        await Waits.UntilAsync(() => Interlocked.Read(ref landed) > 0, "a writer to land a write");
        long beforeRounds = Interlocked.Read(ref landed);
        for (int round = 0; round < 300; round++)
        {
            Volatile.Write(ref fence, (round * 2) + 1);
            drain.Drain();
            long atDrain = Interlocked.Read(ref landed);
            Thread.SpinWait(2000);
            Assert.Equal(atDrain, Interlocked.Read(ref landed));
            Volatile.Write(ref fence, (round * 2) + 2);

            // Writers land again before the next fence goes up (a while at most, should they be descheduled).
            SpinWait.SpinUntil(() => Interlocked.Read(ref landed) > atDrain, TimeSpan.FromMilliseconds(100));
        }

        await stop.CancelAsync();
        await Task.WhenAll(writers);
        Assert.True(Interlocked.Read(ref landed) > beforeRounds, "no write landed between the drains: the test proved nothing");
    }
}
