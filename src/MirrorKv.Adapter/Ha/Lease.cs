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

    // With a coordinator: how long the etcd lease keeps the holder serving on its own (half the TTL from the
    // clock reading taken before the renewal was asked for, the same 2x clock-rate margin as the echo's).
    private long _witnessUntil = long.MinValue;
    private bool _witnessed;

    /// <summary>True while the holder may serve.</summary>
    public bool IsValid => time.GetTimestamp() < Until;

    /// <summary>True while the etcd lease alone keeps the holder serving.</summary>
    public bool WitnessValid => time.GetTimestamp() < Volatile.Read(ref _witnessUntil);

    private long Until => Math.Max(Volatile.Read(ref _until), Volatile.Read(ref _witnessUntil));

    /// <summary>True while more than half of the lease is left (or it is unlimited): no renewal needs asking for.</summary>
    public bool IsFresh
    {
        get
        {
            long until = Until;
            return until == Unlimited || time.GetTimestamp() < until - (long)(duration.TotalSeconds * time.TimestampFrequency / 2);
        }
    }

    /// <summary>
    /// True while a secondary's echo of the holder's own heartbeat keeps the lease valid (not the etcd lease, not
    /// unlimited): that secondary has not promoted, and promotes no earlier than the lease's end, so no node of the
    /// pair serves under a newer epoch now.
    /// </summary>
    public bool EchoValid
    {
        get
        {
            long until = Volatile.Read(ref _until);
            return until != Unlimited && time.GetTimestamp() < until;
        }
    }

    /// <summary>True when no secondary can replace the holder, so the lease never runs out.</summary>
    public bool IsUnlimited => Volatile.Read(ref _until) == Unlimited;

    /// <summary>Time left (zero when run out, <see cref="TimeSpan.MaxValue"/> when unlimited).</summary>
    public TimeSpan Remaining
    {
        get
        {
            long until = Until;
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
        RaiseTo(ref _until, stamp + (long)(duration.TotalSeconds * time.TimestampFrequency));
        return IsValid;
    }

    /// <summary>
    /// A secondary that could promote is now attached, heard from at <paramref name="stamp"/>: from here on
    /// the lease must be renewed.
    /// </summary>
    public void Limit(long stamp) => Volatile.Write(ref _until, stamp + (long)(duration.TotalSeconds * time.TimestampFrequency));

    /// <summary>
    /// No secondary can replace the holder any more (it is gone, and it was not promoting). In pair mode the
    /// lease becomes unlimited; with a coordinator the etcd lease alone rules from here on.
    /// </summary>
    public void MakeUnlimited() => Volatile.Write(ref _until, _witnessed ? long.MinValue : Unlimited);

    /// <summary>From now on a coordinator's lease counts too, and nothing is unlimited.</summary>
    public void UseWitness()
    {
        _witnessed = true;
        if (Volatile.Read(ref _until) == Unlimited)
        {
            Volatile.Write(ref _until, long.MinValue);
        }
    }

    /// <summary>etcd renewed the holder's lease for <paramref name="ttl"/>, asked at <paramref name="stamp"/>.</summary>
    public void RenewWitness(long stamp, TimeSpan ttl)
    {
        RaiseTo(ref _witnessUntil, stamp + (long)(ttl.TotalSeconds / 2 * time.TimestampFrequency));
    }

    /// <summary>etcd no longer has the holder's lease.</summary>
    public void LoseWitness() => Volatile.Write(ref _witnessUntil, long.MinValue);

    // Renewals race (the receive thread, the etcd keep-alive, a batch asking for an echo): a deadline only
    // ever moves later. Unlimited is long.MaxValue, so nothing raises it further.
    private static void RaiseTo(ref long deadline, long until)
    {
        long current = Volatile.Read(ref deadline);
        while (until > current)
        {
            long seen = Interlocked.CompareExchange(ref deadline, until, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    /// <summary>Ends the lease now (both parts).</summary>
    public void Expire()
    {
        Volatile.Write(ref _until, long.MinValue);
        Volatile.Write(ref _witnessUntil, long.MinValue);
    }
}
