namespace MirrorKv.Extensions.Caching.Tests;

/// <summary>
/// A wall clock for the cache that moves only when a test moves it, so that expiry is tested by stepping time, not by
/// waiting for it. It starts a day ahead of the system clock: the primary's expiry reaper, which reads the system
/// clock, then never reclaims an entry before this clock says that it expired.
/// </summary>
internal sealed class SteppedClock : TimeProvider
{
    private long _utcTicks = DateTimeOffset.UtcNow.AddDays(1).UtcTicks;

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _utcTicks), TimeSpan.Zero);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _utcTicks, by.Ticks);
}
