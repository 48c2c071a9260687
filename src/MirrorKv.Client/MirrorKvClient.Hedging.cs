using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using MirrorKv.Memory;
using MirrorKv.Protocol;

namespace MirrorKv.Client;

/// <summary>
/// Hedged reads: a READ the first node has not answered within the hedge delay goes to the other node too,
/// and the first valid entry wins. The primary's answer stays the authority on a pointer (a torn or stale
/// entry there means retry or LOOKUP); the secondary's counts when it is a valid entry, or a slot that no longer
/// holds the key (retired there, so at the primary too: look the key up again, at the secondary while the primary is
/// silent), never when it refuses (it cannot vouch for its copy) or has not seen the slab or the whole entry yet.
/// </summary>
public sealed partial class MirrorKvClient
{
    private readonly HedgeTimer _hedgeTimer = new();
    private HedgeDelayEstimator _hedgeDelay = null!;
    private long _balance;
    private long _hedgedReads, _hedgeWins;

    // When a hedge last went out because the primary had not answered within the delay (a timestamp). Until
    // the primary sends anything after that (NodeChannel.LastReceived), it is suspect: reads start at the
    // secondary, so that a frozen primary costs one hedge delay at the start of the freeze, not one per read.
    private long _primarySuspectSince;

    /// <summary>The hedge delay in force now (derived from recent READs unless set in the options).</summary>
    public TimeSpan HedgeDelay => _hedgeDelay.Delay;

    /// <summary>
    /// On the read path: whether this read of a primary pointer is hedged, and which node it asks first
    /// (the secondary while the primary is suspect; Balanced: every other read besides).
    /// </summary>
    private bool ShouldHedge(ClientRoute route, NodeChannel channel, Opcode opcode, in RemotePointer pointer, out NodeChannel secondary, out bool secondaryFirst)
    {
        secondaryFirst = false;
        secondary = null!;
        if (_options.ReadFrom == ReadFrom.Primary || opcode != Opcode.Read || !channel.Owns(pointer.RKey)
            || channel != route.Primary || route.Secondary is not { IsHealthy: true } ready || ready == channel)
        {
            return false;
        }

        secondary = ready;
        secondaryFirst = Volatile.Read(ref _primarySuspectSince) > channel.LastReceived
            || _options.ReadFrom == ReadFrom.Balanced && (Interlocked.Increment(ref _balance) & 1) == 0;
        return true;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadOutcome> HedgedReadAsync(NodeChannel primary, NodeChannel secondary, bool secondaryFirst, CachedPointer cached, byte[] keyBuffer, int keyLength, IBufferWriter<byte> destination)
    {
        long start = Stopwatch.GetTimestamp();
        long hedgeAt = start + _hedgeDelay.DelayTicks;
        HedgedRead hedge = _hedgeTimer.Rent(hedgeAt);
        NodeChannel first = secondaryFirst ? secondary : primary;
        NodeChannel second = secondaryFirst ? primary : secondary;
        PendingOperation? firstOp = null, secondOp = null;
        try
        {
            firstOp = TryPostRead(first, first == primary ? Opcode.Read : Opcode.FailoverRead, hedge, cached.Pointer);
            if (firstOp is null)
            {
                return ReadOutcome.Failed;
            }

            bool firstSeen = false, secondSeen = false;
            while (true)
            {
                await hedge.WaitAsync().ConfigureAwait(false);
                if (!firstSeen && !firstOp.IsInFlight)
                {
                    firstSeen = true;
                    ReadOutcome outcome = Verdict(firstOp, first == primary, keyBuffer, keyLength, cached, destination);
                    if (outcome == ReadOutcome.Done && first == primary)
                    {
                        _hedgeDelay.Record(Stopwatch.GetTimestamp() - start);
                    }

                    if (outcome is ReadOutcome.Done or ReadOutcome.Stale || first == primary && outcome != ReadOutcome.Failed)
                    {
                        // A stale pointer at the secondary is looked up again at once, not after a silent primary's answer.
                        return outcome;
                    }

                    // The first node failed or refused: the other one now, without waiting for the delay.
                    if (secondOp is null)
                    {
                        hedge.Disarm();
                        secondOp = TryPostRead(second, second == primary ? Opcode.Read : Opcode.FailoverRead, hedge, cached.Pointer);
                        CountHedge(secondOp);
                    }
                }

                if (secondOp is not null && !secondSeen && !secondOp.IsInFlight)
                {
                    secondSeen = true;
                    ReadOutcome outcome = Verdict(secondOp, second == primary, keyBuffer, keyLength, cached, destination);
                    if (outcome == ReadOutcome.Done)
                    {
                        Interlocked.Increment(ref _hedgeWins);
                        MirrorKvTelemetry.HedgeWins.Add(1);
                        return outcome;
                    }

                    if (second == primary && outcome != ReadOutcome.Failed || outcome == ReadOutcome.Stale)
                    {
                        return outcome;
                    }
                }

                if (firstSeen && (secondOp is null || secondSeen))
                {
                    // Neither gave a valid entry and the primary gave no verdict: the caller tries again.
                    return ReadOutcome.Failed;
                }

                long now = Stopwatch.GetTimestamp();
                if (secondOp is null && now >= hedgeAt)
                {
                    if (first == primary)
                    {
                        Volatile.Write(ref _primarySuspectSince, now);
                    }

                    secondOp = TryPostRead(second, second == primary ? Opcode.Read : Opcode.FailoverRead, hedge, cached.Pointer);
                    CountHedge(secondOp);
                }
            }
        }
        finally
        {
            _hedgeTimer.Return(hedge);
            if (firstOp is not null)
            {
                first.Return(firstOp);
            }

            if (secondOp is not null)
            {
                second.Return(secondOp);
            }
        }
    }

    private void CountHedge(PendingOperation? posted)
    {
        if (posted is not null)
        {
            Interlocked.Increment(ref _hedgedReads);
            MirrorKvTelemetry.HedgedReads.Add(1);
        }
    }

    // Null when the channel could not take the request (closed under us, or full): the other node may.
    private PendingOperation? TryPostRead(NodeChannel channel, Opcode opcode, HedgedRead hedge, in RemotePointer pointer)
    {
        PendingOperation op;
        try
        {
            op = channel.Rent();
        }
        catch (MirrorKvException)
        {
            return null;
        }

        op.Observe(hedge);
        try
        {
            channel.PostRead(op, opcode, pointer, flush: true);
        }
        catch (Exception e) when (e is Transport.ConnectionClosedException or MirrorKvException or ObjectDisposedException)
        {
            channel.Return(op);
            return null;
        }

        CountRead(opcode);
        return op;
    }

    // The primary's reply is the authority on the pointer; the secondary's is used only when it is a valid entry.
    private static ReadOutcome Verdict(PendingOperation op, bool fromPrimary, byte[] keyBuffer, int keyLength, in CachedPointer cached, IBufferWriter<byte> destination)
    {
        if (op.Faulted)
        {
            return ReadOutcome.Failed;
        }

        if (fromPrimary)
        {
            return Judge(op.Status, op.Payload, keyBuffer.AsSpan(0, keyLength), cached, destination);
        }

        try
        {
            // A valid entry wins. An entry there that is not this key's at the pointer any more (a tombstone, another
            // key, an older version) says the pointer is stale, as the primary's would: the secondary has every write
            // the primary acknowledged, so the slot was retired or reused there too. Anything else (torn, a slab it
            // has not seen, a refusal) says nothing of the pointer.
            return Judge(op.Status, op.Payload, keyBuffer.AsSpan(0, keyLength), cached, destination) switch
            {
                ReadOutcome.Done => ReadOutcome.Done,
                ReadOutcome.Stale when op.Status == WireStatus.Ok => ReadOutcome.Stale,
                _ => ReadOutcome.Failed,
            };
        }
        catch (MirrorKvException)
        {
            return ReadOutcome.Failed;
        }
    }
}
