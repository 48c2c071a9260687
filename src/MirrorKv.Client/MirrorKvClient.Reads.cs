using System.Diagnostics;
using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using MirrorKv.Entries;
using MirrorKv.Memory;
using MirrorKv.Protocol;

namespace MirrorKv.Client;

/// <summary>Reads: one-sided with the cached pointer, validated on arrival, with LOOKUP as the fallback.</summary>
public sealed partial class MirrorKvClient
{
    /// <summary>Reads a key's value; null when the key is not in the store. Allocates the returned array.</summary>
    public async ValueTask<byte[]?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        var buffer = new ArrayBufferWriter<byte>();
        return await TryGetAsync(key, buffer, cancellationToken).ConfigureAwait(false) ? buffer.WrittenSpan.ToArray() : null;
    }

    /// <summary>
    /// Reads a key's value into <paramref name="destination"/>; false when the key is not in the store.
    /// Allocates nothing per call once warmed up (pooled state machine, pooled operations and buffers).
    /// </summary>
    public ValueTask<bool> TryGetAsync(string key, IBufferWriter<byte> destination, CancellationToken cancellationToken = default) =>
        MirrorKvTelemetry.Active ? TryGetObservedAsync(key, destination, cancellationToken) : TryGetCoreAsync(key, destination, cancellationToken);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> TryGetObservedAsync(string key, IBufferWriter<byte> destination, CancellationToken cancellationToken)
    {
        var scope = new OperationScope("GET", _router.Route.Primary.EndPoint);
        try
        {
            bool found = await TryGetCoreAsync(key, destination, cancellationToken).ConfigureAwait(false);
            scope.End(null);
            return found;
        }
        catch (Exception e)
        {
            scope.End(e);
            throw;
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> TryGetCoreAsync(string key, IBufferWriter<byte> destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(destination);
        byte[] keyBuffer = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(key.Length));
        try
        {
            int keyLength = Encoding.UTF8.GetBytes(key, keyBuffer);
            int tornRetries = 0;
            bool twoSided = false;
            var retries = new ReadRetries(_options.PromotionWait);
            while (retries.Attempts < MaxReadAttempts)
            {
                cancellationToken.ThrowIfCancellationRequested();
                await retries.BackOffAsync(cancellationToken).ConfigureAwait(false);

                if (!TryGetCached(key, out CachedPointer cached))
                {
                    // After the immediate retries of a slot found unpublished or torn, the value itself is asked for
                    // (GET): a key written faster than the replication round trip may show an unpublished slot to
                    // every READ, and GET answers with the value once it is published, whatever follows it.
                    (bool found, cached, bool valueRead) = await LookupAsync(keyBuffer.AsMemory(0, keyLength), twoSided ? destination : null, cancellationToken).ConfigureAwait(false);
                    if (!found)
                    {
                        return false;
                    }

                    Remember(key, cached);
                    if (valueRead)
                    {
                        return true;
                    }
                }

                ClientRoute route = _router.Route;
                (NodeChannel? channel, Opcode opcode) = RouteRead(route, cached.Pointer);
                if (channel is null)
                {
                    if (await NoRouteAsync(key, cached).ConfigureAwait(false))
                    {
                        retries.Failed("no node served the pointer's region until a reconnect");
                        continue;
                    }

                    throw Unavailable("no node can serve reads");
                }

                ReadOutcome outcome;
                string? refusal = null;
                if (cached.Pointer.Length > MaxReadPiece)
                {
                    outcome = await ReadLargeAsync(channel, opcode, cached, keyBuffer, keyLength, destination).ConfigureAwait(false);
                }
                else if (ShouldHedge(route, channel, opcode, cached.Pointer, out NodeChannel secondary, out bool secondaryFirst))
                {
                    outcome = await HedgedReadAsync(channel, secondary, secondaryFirst, cached, keyBuffer, keyLength, destination).ConfigureAwait(false);
                }
                else
                {
                    PendingOperation op = channel.Rent();
                    try
                    {
                        channel.PostRead(op, opcode, cached.Pointer, flush: true);
                        CountRead(opcode);
                        await op.AsValueTask().ConfigureAwait(false);
                        outcome = Judge(op.Status, op.Payload, keyBuffer.AsSpan(0, keyLength), cached, destination);
                        if (op.Status != WireStatus.Ok)
                        {
                            refusal = $"{channel.EndPoint} refused {opcode}: {op.Status}: {ErrorText.Read(op.Payload)}";
                        }
                    }
                    catch (Exception e) when (e is MirrorKvException { Error: MirrorKvError.Unavailable } or Transport.ConnectionClosedException)
                    {
                        // The node failed under this read; the channel's failure handler has moved the path on.
                        Interlocked.Increment(ref _retriedAfterFailure);
                        retries.Failed($"{channel.EndPoint}: {e.Message}");
                        continue;
                    }
                    finally
                    {
                        channel.Return(op);
                    }
                }

                if (Settle(outcome, key, cached, ref tornRetries, ref twoSided))
                {
                    return true;
                }

                if (outcome == ReadOutcome.Failed || refusal is not null)
                {
                    // No node answered about the pointer, or one refused it (fenced for a moment, a secondary that
                    // cannot vouch for its copy now, a region it no longer serves): look again, bounded by time.
                    retries.Failed(refusal ?? $"{channel.EndPoint} did not answer the read");
                }
                else
                {
                    retries.Answered(torn: outcome == ReadOutcome.Torn);
                }
            }

            throw new MirrorKvException(MirrorKvError.ReadFailed, $"No valid entry for the key after {MaxReadAttempts} attempts ({retries.Describe()}).");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(keyBuffer);
        }
    }

    /// <summary>
    /// Finds a key's pointer with a two-sided LOOKUP at the node that serves reads now. When neither node can
    /// answer (the primary failed, its secondary is promoting or refuses), it waits for the promotion the way a
    /// write does, up to <see cref="MirrorKvClientOptions.PromotionWait"/>, so that a failover reaches a reader
    /// as a stall, not as an error.
    /// </summary>
    /// <remarks>
    /// With <paramref name="value"/>, at a node that speaks protocol 1.2, it sends GET instead: the value comes with
    /// the pointer and is written to <paramref name="value"/> (ValueRead). A node of 1.1 or older, or a value too
    /// large for GET's reply, gets LOOKUP.
    /// </remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<(bool Found, CachedPointer Pointer, bool ValueRead)> LookupAsync(ReadOnlyMemory<byte> key, IBufferWriter<byte>? value, CancellationToken cancellationToken)
    {
        long start = Stopwatch.GetTimestamp();
        int failures = 0;

        // While hedging found the primary silent, ask the secondary first: it holds every acknowledged write (it
        // refuses when it cannot vouch for that, and then the primary is asked), and it answers now.
        bool secondaryFirst = _options.ReadFrom != ReadFrom.Primary && _router.Route is { Primary: { IsHealthy: true } silent, Secondary: { IsHealthy: true } }
            && Volatile.Read(ref _primarySuspectSince) > silent.LastReceived;
        string lastFailure = "no answer";
        while (true)
        {
            NodeChannel channel = secondaryFirst && _router.Route.Secondary is { IsHealthy: true } standby ? standby
                : _router.Route.Primary is { IsHealthy: true } primary ? primary
                : await _router.ReadySecondaryAsync().ConfigureAwait(false) ?? await _router.WritablePrimaryAsync(start, cancellationToken).ConfigureAwait(false);
            Opcode opcode = value is not null && channel.Hello.Version.Minor >= ProtocolVersion.V1_2.Minor ? Opcode.Get : Opcode.Lookup;
            PendingOperation op = channel.Rent();
            try
            {
                channel.PostKv(op, opcode, 0, default, key.Span, default, flush: true);
                Interlocked.Increment(ref _lookups);
                MirrorKvTelemetry.Lookups.Add(1);
                await op.AsValueTask().ConfigureAwait(false);
                if (op.Status == WireStatus.NotFound)
                {
                    return (false, default, false);
                }

                if (opcode == Opcode.Get && op.Status == WireStatus.Ok && op.Payload.Length >= KvReply.Size
                    && KvReply.TryReadAddressing(op.Payload[..KvReply.Size], out RemotePointer at, out ulong atVersion) == WireStatus.Ok)
                {
                    value!.Write(op.Payload[KvReply.Size..]);
                    return (true, new CachedPointer(at, atVersion), true);
                }

                if (opcode == Opcode.Get && op.Status == WireStatus.TooLong)
                {
                    value = null;
                    continue;
                }

                if (op.Status == WireStatus.NotPrimary && secondaryFirst && channel != _router.Route.Primary)
                {
                    // The secondary cannot vouch for its copy now: the primary decides, however long it takes.
                    secondaryFirst = false;
                    continue;
                }

                if (op.Status == WireStatus.NotPrimary)
                {
                    // The node is fenced or stopping (or still copying, for a joining secondary): its data
                    // cannot be trusted. Leave it and ask the other node, or wait for the one that takes over.
                    string refusal = ErrorText.Read(op.Payload);
                    lastFailure = $"{channel.EndPoint} refused it: {refusal}";
                    channel.Invalidate($"refused LOOKUP: {refusal}");
                    Interlocked.Increment(ref _retriedAfterFailure);
                }
                else if (op.Status != WireStatus.Ok || KvReply.TryReadAddressing(op.Payload, out RemotePointer pointer, out ulong version) != WireStatus.Ok)
                {
                    throw new MirrorKvException(MirrorKvError.Protocol, $"LOOKUP failed: {op.Status}: {ErrorText.Read(op.Payload)}", op.Status);
                }
                else
                {
                    return (true, new CachedPointer(pointer, version), false);
                }
            }
            catch (Exception e) when (e is MirrorKvException { Error: MirrorKvError.Unavailable } or Transport.ConnectionClosedException)
            {
                lastFailure = $"{channel.EndPoint}: {e.Message}";
                Interlocked.Increment(ref _retriedAfterFailure);
            }
            finally
            {
                channel.Return(op);
            }

            if (Stopwatch.GetElapsedTime(start) >= _options.PromotionWait)
            {
                throw Unavailable($"no node answered LOOKUP{MirrorKvClientOptions.WithinPromotionWait(_options.PromotionWait)} (last: {lastFailure})");
            }

            if (++failures > 1)
            {
                // Both nodes refused in turn (a promotion under way): do not spin on them.
                await Task.Delay(5, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    // Where a read of this pointer goes on this route: its owner one-sided, or the secondary as FAILOVER_READ.
    private static (NodeChannel? Channel, Opcode Opcode) RouteRead(ClientRoute route, in RemotePointer pointer)
    {
        NodeChannel primary = route.Primary;
        NodeChannel? secondary = route.Secondary;
        if (primary.Owns(pointer.RKey))
        {
            return primary.IsHealthy ? (primary, Opcode.Read)
                : secondary is { IsHealthy: true } ? (secondary, Opcode.FailoverRead)
                : (null, Opcode.Read);
        }

        return secondary is { IsHealthy: true } && secondary.Owns(pointer.RKey) ? (secondary, Opcode.Read) : (null, Opcode.Read);
    }

    /// <summary>No channel for this pointer: wait for the secondary, or drop a pointer no live node knows.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> NoRouteAsync(string key, CachedPointer cached)
    {
        if (await _router.ReadySecondaryAsync().ConfigureAwait(false) is { } secondary)
        {
            if (!_router.Route.Primary.Owns(cached.Pointer.RKey) && !secondary.Owns(cached.Pointer.RKey))
            {
                Forget(key, cached);
            }

            return true;
        }

        if (!_router.Route.Primary.IsHealthy)
        {
            // Neither node is reachable for reads: the secondary connection may have been refused while it
            // was still copying, or not be up yet. Wait, as writes do, for the secondary to take over.
            try
            {
                NodeChannel promoted = await _router.WritablePrimaryAsync(Stopwatch.GetTimestamp(), CancellationToken.None).ConfigureAwait(false);
                if (!promoted.Owns(cached.Pointer.RKey))
                {
                    Forget(key, cached);
                }

                return true;
            }
            catch (MirrorKvException e) when (e.Error == MirrorKvError.Unavailable)
            {
                return false;
            }
        }

        Forget(key, cached);
        return true;
    }

    // What one read's outcome leaves to do, for plain and hedged reads alike: true when the value was read; false
    // to try again, after counting a torn retry, counting a node that failed, or forgetting a stale pointer.
    private bool Settle(ReadOutcome outcome, string key, in CachedPointer cached, ref int tornRetries, ref bool twoSided)
    {
        switch (outcome)
        {
            case ReadOutcome.Done:
                return true;
            case ReadOutcome.Torn when ++tornRetries <= _options.TornReadRetries:
                Interlocked.Increment(ref _tornRetries);
                MirrorKvTelemetry.TornRetries.Add(1);
                return false;
            case ReadOutcome.Torn:
                // Past the immediate retries the value is being rewritten faster than one-sided reads can catch it:
                // ask for the value itself (GET), which the primary copies out under its own consistency rules.
                twoSided = true;
                Forget(key, cached);
                return false;
            case ReadOutcome.Failed:
                Interlocked.Increment(ref _retriedAfterFailure);
                return false;
            default:
                Forget(key, cached);
                return false;
        }
    }

    private static ReadOutcome Judge(WireStatus replyStatus, ReadOnlySpan<byte> payload, ReadOnlySpan<byte> key, in CachedPointer cached, IBufferWriter<byte> destination)
    {
        if (replyStatus != WireStatus.Ok)
        {
            // The pointer names memory the node no longer serves (region gone, slab unknown): look it up again.
            return replyStatus is WireStatus.MalformedFrame or WireStatus.UnknownOpcode
                ? throw new MirrorKvException(MirrorKvError.Protocol, $"READ failed: {replyStatus}: {ErrorText.Read(payload)}", replyStatus)
                : ReadOutcome.Stale;
        }

        EntryStatus status = EntryValidator.Validate(payload, key, cached.MinVersion, out ValidatedEntry entry);
        switch (status)
        {
            case EntryStatus.Ok:
                destination.Write(entry.ValueOf(payload));
                return ReadOutcome.Done;
            case EntryStatus.Torn or EntryStatus.Corrupt:
                return ReadOutcome.Torn;
            default:
                return ReadOutcome.Stale;
        }
    }

    private static MirrorKvException Unavailable(string what) => MirrorKvException.Unavailable(what);

    private enum ReadOutcome
    {
        Done,
        Torn,
        Stale,

        // No node gave an answer about the pointer (failed, timed out, refused): try again.
        Failed,
    }
}
