using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using MirrorKv.Memory;
using MirrorKv.Protocol;

namespace MirrorKv.Client;

/// <summary>Writes and deletes: two-sided, to the primary, fenced by epoch.</summary>
public sealed partial class MirrorKvClient
{
    /// <summary>Sets a key; returns once the pair acknowledged it (after the secondary applied it, in sync mode).</summary>
    public ValueTask SetAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default) =>
        MirrorKvTelemetry.Active ? SetObservedAsync(key, value, cancellationToken) : SetCoreAsync(key, value, cancellationToken);

    /// <summary>Deletes a key; false when it was not there.</summary>
    public ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default) =>
        MirrorKvTelemetry.Active ? DeleteObservedAsync(key, cancellationToken) : DeleteCoreAsync(key, cancellationToken);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SetObservedAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
    {
        var scope = new OperationScope("SET", _router.Route.Primary.EndPoint);
        try
        {
            await SetCoreAsync(key, value, cancellationToken).ConfigureAwait(false);
            scope.End(null);
        }
        catch (Exception e)
        {
            scope.End(e);
            throw;
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> DeleteObservedAsync(string key, CancellationToken cancellationToken)
    {
        var scope = new OperationScope("DELETE", _router.Route.Primary.EndPoint);
        try
        {
            bool deleted = await DeleteCoreAsync(key, cancellationToken).ConfigureAwait(false);
            scope.End(null);
            return deleted;
        }
        catch (Exception e)
        {
            scope.End(e);
            throw;
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SetCoreAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
    {
        (WireStatus status, CachedPointer written, string error) = await WriteWithFailoverAsync(Opcode.Write, key, value, cancellationToken).ConfigureAwait(false);
        if (status != WireStatus.Ok)
        {
            throw WriteError(Opcode.Write, status, error);
        }

        Remember(key, written);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> DeleteCoreAsync(string key, CancellationToken cancellationToken)
    {
        (WireStatus status, _, string error) = await WriteWithFailoverAsync(Opcode.Delete, key, default, cancellationToken).ConfigureAwait(false);
        _table.Set(key, default);
        return status == WireStatus.NotFound ? false : status == WireStatus.Ok ? true : throw WriteError(Opcode.Delete, status, error);
    }

    /// <summary>
    /// Sends a write to the primary and, whenever it was not applied, or may not have been, sends it again to
    /// whoever is primary then, until <see cref="MirrorKvClientOptions.PromotionWait"/> has passed or the caller
    /// cancels: after NotPrimary or StaleEpoch (refused before the store was touched), ReplicationFailed (applied
    /// on a primary that fenced before its secondary confirmed it: it may or may not survive), and a connection
    /// lost or a reply overdue (unknown). Resending is safe because a WRITE is a whole-value put of the same
    /// key and value and a DELETE of the same key (docs/failover.md, "Retried writes"); a repeated DELETE that
    /// answers NotFound is reported as deleted. Store refusals (value too large, no room) are answers, not retried.
    /// </summary>
    /// <remarks>
    /// One state machine for the whole write, its sends included: a SET is awaited once per attempt, not through a
    /// chain of awaits (each level of which costs a resumption on the receive thread).
    /// </remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<(WireStatus Status, CachedPointer Written, string Error)> WriteWithFailoverAsync(Opcode opcode, string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
    {
        long start = Stopwatch.GetTimestamp();
        byte[] keyBuffer = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(key.Length));
        try
        {
            int keyLength = Encoding.UTF8.GetBytes(key, keyBuffer);
            for (int attempt = 0; ; attempt++)
            {
                NodeChannel primary = await _router.WritablePrimaryAsync(start, cancellationToken).ConfigureAwait(false);
                PendingOperation? op = null;
                try
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    if (!primary.IsHealthy)
                    {
                        throw Unavailable($"the primary at {primary.EndPoint} is down");
                    }

                    if (!FitsFrame(primary, keyLength, value.Length))
                    {
                        // The node would close the connection on a frame past its maximum, which looks like its failure.
                        return (WireStatus.ValueTooLarge, default, $"value of {value.Length} bytes does not fit a WRITE to {primary.EndPoint}, whose frames hold at most {primary.Hello.MaxFrameSize} bytes (see its --max-value-size)");
                    }

                    op = primary.Rent();
                    RemotePointer hint = _table.TryGet(key, out CachedPointer cached) ? cached.Pointer : default;
                    try
                    {
                        primary.PostKv(op, opcode, primary.Hello.Epoch, hint, keyBuffer.AsSpan(0, keyLength), value.Span, flush: true);
                        await op.AsValueTask().ConfigureAwait(false);
                    }
                    catch (Transport.ConnectionClosedException e)
                    {
                        throw new MirrorKvException(MirrorKvError.Unavailable, $"the primary at {primary.EndPoint} failed before the write was sent", WireStatus.Ok, e);
                    }
                    catch (MirrorKvException e) when (e.Error == MirrorKvError.Unavailable)
                    {
                        throw new MirrorKvException(MirrorKvError.Unavailable, $"the primary at {primary.EndPoint} failed before acknowledging the write; it may or may not have been applied", WireStatus.Ok, e);
                    }

                    if (op.Status == WireStatus.Ok)
                    {
                        _router.NoteSecondary(op.Payload);
                        if (KvReply.TryReadAddressing(op.Payload, out RemotePointer pointer, out ulong version) != WireStatus.Ok)
                        {
                            throw new MirrorKvException(MirrorKvError.Protocol, $"{opcode} reply is malformed");
                        }

                        return (WireStatus.Ok, new CachedPointer(pointer, version), "");
                    }

                    WireStatus status = op.Status;
                    string error = ErrorText.Read(op.Payload);
                    if (IsNotApplied(status))
                    {
                        primary.Invalidate($"no longer the primary: {status}: {error}");
                        CountWriteRetry();
                        if (Stopwatch.GetElapsedTime(start) < _options.PromotionWait)
                        {
                            continue;
                        }

                        return (status, default, $"{error} (sent {attempt + 1} times over {_options.PromotionWait.TotalSeconds:F1} s; no node took it)");
                    }

                    return attempt > 0 && opcode == Opcode.Delete && status == WireStatus.NotFound ? (WireStatus.Ok, default, error) : (status, default, error);
                }
                catch (MirrorKvException e) when (e.Error == MirrorKvError.Unavailable && Stopwatch.GetElapsedTime(start) < _options.PromotionWait)
                {
                    // The primary failed under this write: find who serves now and write again.
                    CountWriteRetry();
                }
                finally
                {
                    if (op is not null)
                    {
                        primary.Return(op);
                    }
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(keyBuffer);
        }
    }

    // Statuses of a write that the pair did not take (or may not keep): to be sent again to the current primary.
    private static bool IsNotApplied(WireStatus status) => status is WireStatus.NotPrimary or WireStatus.StaleEpoch or WireStatus.ReplicationFailed;

    private void CountWriteRetry()
    {
        Interlocked.Increment(ref _retriedAfterFailure);
        MirrorKvTelemetry.WriteRetries.Add(1);
    }

    // Whether a WRITE of this key and value fits a frame the node takes (its HELLO reply says how large).
    private static bool FitsFrame(NodeChannel node, int keyLength, int valueLength) =>
        (long)FrameHeader.Size + KvRequest.FixedSize + keyLength + valueLength <= node.Hello.MaxFrameSize;

    private static MirrorKvException WriteError(Opcode opcode, WireStatus status, string message)
    {
        MirrorKvError error = status switch
        {
            WireStatus.KeyTooLong or WireStatus.EmptyKey => MirrorKvError.KeyTooLong,
            WireStatus.ValueTooLarge => MirrorKvError.ValueTooLarge,
            WireStatus.OutOfMemory => MirrorKvError.OutOfMemory,
            // Statuses of a write no node took: retried until PromotionWait ran out, so no node can serve it.
            WireStatus.NotPrimary or WireStatus.ReplicationFailed or WireStatus.StaleEpoch => MirrorKvError.Unavailable,
            _ => MirrorKvError.Protocol,
        };
        return new MirrorKvException(error, $"{opcode} failed: {status}: {message}", status);
    }
}
