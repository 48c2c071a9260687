using System.Diagnostics;

namespace MirrorKv.Cli.Chaos;

/// <summary>
/// A thread that does nothing but sleep 1 ms at a time, and the longest any one of those sleeps took since the last
/// <see cref="Mark"/>: how late this machine wakes a thread that wants no CPU at all. A reader cannot be served sooner
/// than its own thread is woken, so in the same window this is a floor under every read stall, whatever the pair
/// does; measured with nothing else running (<see cref="MeasureAloneAsync"/>), it is the machine's own floor.
/// </summary>
internal sealed class SleepProbe : IDisposable
{
    private readonly Thread _thread;
    private long _longestTicks;
    private volatile bool _stopped;

    public SleepProbe()
    {
        // A thread of its own, not the thread pool's, so that it waits in no queue of this process. At the normal
        // priority: .NET on Linux does not apply Thread.Priority (checked: nice 0 either way), so it competes for the
        // cores as the readers' threads do.
        _thread = new Thread(Run) { IsBackground = true, Name = "sleep probe" };
        _thread.Start();
    }

    /// <summary>The longest 1 ms sleep since the last <see cref="Mark"/>, in milliseconds.</summary>
    public double LongestMs => Stopwatch.GetElapsedTime(0, Volatile.Read(ref _longestTicks)).TotalMilliseconds;

    /// <summary>A window starts now.</summary>
    public void Mark() => Interlocked.Exchange(ref _longestTicks, 0);

    /// <summary>
    /// With nothing else of this run going on: <paramref name="windows"/> windows of <paramref name="window"/> each, and
    /// the longest 1 ms sleep in each.
    /// </summary>
    public static async Task<double[]> MeasureAloneAsync(int windows, TimeSpan window, CancellationToken cancellationToken)
    {
        using var probe = new SleepProbe();
        var longest = new double[windows];
        for (int i = 0; i < windows; i++)
        {
            probe.Mark();
            await Task.Delay(window, cancellationToken);
            longest[i] = probe.LongestMs;
        }

        return longest;
    }

    public void Dispose()
    {
        _stopped = true;
        _thread.Join();
    }

    private void Run()
    {
        while (!_stopped)
        {
            long start = Stopwatch.GetTimestamp();
            Thread.Sleep(1);
            long took = Stopwatch.GetTimestamp() - start;
            long longest;
            while (took > (longest = Volatile.Read(ref _longestTicks)) && Interlocked.CompareExchange(ref _longestTicks, took, longest) != longest)
            {
            }
        }
    }
}
