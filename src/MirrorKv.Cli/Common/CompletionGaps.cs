using System.Diagnostics;

namespace MirrorKv.Cli;

/// <summary>
/// The longest time in which nothing of one kind (good reads, acknowledged writes) completed, since a mark: counted
/// from the mark for the first completion after it, and up to now for a stall still going on. Completions come from
/// many threads; no lock.
/// </summary>
internal sealed class CompletionGaps
{
    private long _last, _longest;

    /// <summary>When the last completion happened (a Stopwatch timestamp; 0 before any).</summary>
    public long Last => Volatile.Read(ref _last);

    /// <summary>Forgets the longest gap (a new mark).</summary>
    public void Reset() => Volatile.Write(ref _longest, 0);

    /// <summary>One completed now: the gap since the previous one, or since <paramref name="mark"/> if later, is a candidate.</summary>
    public void Completed(long mark)
    {
        long now = Stopwatch.GetTimestamp();
        long gap = now - Math.Max(Interlocked.Exchange(ref _last, now), mark);
        long current;
        while (gap > (current = Volatile.Read(ref _longest)) && Interlocked.CompareExchange(ref _longest, gap, current) != current)
        {
        }
    }

    /// <summary>The longest gap since <paramref name="mark"/>, a gap still open up to <paramref name="now"/> included.</summary>
    public double LongestMs(long mark, long now) =>
        Stopwatch.GetElapsedTime(0, Math.Max(Volatile.Read(ref _longest), now - Math.Max(Last, mark))).TotalMilliseconds;
}
