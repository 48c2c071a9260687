namespace MirrorKv.Adapter;

/// <summary>
/// A primary's right to serve, as a deadline on its monotonic clock (<see cref="TimeProvider.GetTimestamp"/>).
/// Read once per batch without a lock: a plain 64-bit read and a compare.
/// </summary>
/// <remarks>
/// In pair mode the secondary grants it: the primary stamps each HEARTBEAT with its clock, the secondary
/// echoes the last stamp it received, and the lease runs <see cref="NodeOptions.LeaseDuration"/> from the
/// echoed stamp, never from when the echo arrived. The secondary heard the stamped heartbeat no earlier than
/// the stamp, and promotes no earlier than <see cref="NodeOptions.PromoteAfter"/> after the last frame it
/// heard, so the lease ends before any promotion as long as the two clocks do not drift apart by more than
/// the margin between the two (see docs/failover.md). A primary with no secondary that could promote (none
/// attached, or one still copying) holds an unlimited lease.
/// </remarks>
internal sealed class Lease(TimeProvider time, TimeSpan duration)
{
    /// <summary>The lease of a primary that nobody else could replace: it never runs out.</summary>
    public const long Unlimited = long.MaxValue;

    private long _until = Unlimited;

    /// <summary>The clock the lease is kept on.</summary>
    public TimeProvider Time => time;

    /// <summary>True while the holder may serve.</summary>
    public bool IsValid => time.GetTimestamp() < Volatile.Read(ref _until);

    /// <summary>True while more than half of the lease is left (or it is unlimited): no renewal needs asking for.</summary>
    public bool IsFresh
    {
        get
        {
            long until = Volatile.Read(ref _until);
            return until == Unlimited || time.GetTimestamp() < until - (long)(duration.TotalSeconds * time.TimestampFrequency / 2);
        }
    }

    /// <summary>True when no secondary can replace the holder, so the lease never runs out.</summary>
    public bool IsUnlimited => Volatile.Read(ref _until) == Unlimited;

    /// <summary>Time left (zero when run out, <see cref="TimeSpan.MaxValue"/> when unlimited).</summary>
    public TimeSpan Remaining
    {
        get
        {
            long until = Volatile.Read(ref _until);
            if (until == Unlimited)
            {
                return TimeSpan.MaxValue;
            }

            long now = time.GetTimestamp();
            return until > now ? time.GetElapsedTime(now, until) : TimeSpan.Zero;
        }
    }

    /// <summary>A reading of the clock to stamp a HEARTBEAT with.</summary>
    public long Stamp() => time.GetTimestamp();

    /// <summary>
    /// The secondary echoed <paramref name="stamp"/>: the lease runs to stamp + duration, unless it already
    /// runs longer. Returns whether the lease is valid now.
    /// </summary>
    public bool Renew(long stamp)
    {
        long until = stamp + (long)(duration.TotalSeconds * time.TimestampFrequency);
        long current = Volatile.Read(ref _until);
        while (current != Unlimited && until > current)
        {
            long seen = Interlocked.CompareExchange(ref _until, until, current);
            if (seen == current)
            {
                break;
            }

            current = seen;
        }

        return IsValid;
    }

    /// <summary>
    /// A secondary that could promote is now attached, heard from at <paramref name="stamp"/>: from here on
    /// the lease must be renewed.
    /// </summary>
    public void Limit(long stamp) => Volatile.Write(ref _until, stamp + (long)(duration.TotalSeconds * time.TimestampFrequency));

    /// <summary>No secondary can replace the holder any more (it is gone, and it was not promoting).</summary>
    public void MakeUnlimited() => Volatile.Write(ref _until, Unlimited);

    /// <summary>Ends the lease now.</summary>
    public void Expire() => Volatile.Write(ref _until, long.MinValue);
}
