using System.Runtime.CompilerServices;
using System.Buffers;
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
        var scope = new OperationScope("SET", _primary.EndPoint);
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
        var scope = new OperationScope("DELETE", _primary.EndPoint);
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
    /// Sends a write to the primary; if the primary fails or turns out to have been replaced, follows the
    /// promotion and sends it again. Both writes carry the same key and value, so a write that did land
    /// before the failure is simply written twice; a repeated DELETE answers NotFound, reported as deleted.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<(WireStatus Status, CachedPointer Written, string Error)> WriteWithFailoverAsync(Opcode opcode, string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
    {
        for (int attempt = 0; ; attempt++)
        {
            NodeChannel primary = await WritablePrimaryAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                (WireStatus status, CachedPointer written, string error) = await SendWriteAsync(primary, opcode, key, value, cancellationToken).ConfigureAwait(false);
                // ReplicationFailed: the primary fenced before the secondary confirmed it (a failover, or a lease
                // that ran out under a pause). Either way the write is sent again to whoever serves now.
                if (status is WireStatus.NotPrimary or WireStatus.StaleEpoch or WireStatus.ReplicationFailed && attempt < 2)
                {
                    primary.Invalidate($"no longer the primary: {error}");
                    continue;
                }

                return attempt > 0 && opcode == Opcode.Delete && status == WireStatus.NotFound ? (WireStatus.Ok, written, error) : (status, written, error);
            }
            catch (MirrorKvException e) when (e.Error == MirrorKvError.Unavailable && attempt < 2)
            {
                // The primary failed under this write: wait for the promotion and write again.
            }
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<(WireStatus Status, CachedPointer Written, string Error)> SendWriteAsync(NodeChannel primary, Opcode opcode, string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!primary.IsHealthy)
        {
            throw Unavailable($"the primary at {primary.EndPoint} is down");
        }

        byte[] keyBuffer = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(key.Length));
        PendingOperation op = primary.Rent();
        try
        {
            int keyLength = Encoding.UTF8.GetBytes(key, keyBuffer);
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
                NoteSecondary(op.Payload);
                return KvReply.TryReadAddressing(op.Payload, out RemotePointer pointer, out ulong version) == WireStatus.Ok
                    ? (WireStatus.Ok, new CachedPointer(pointer, version), "")
                    : throw new MirrorKvException(MirrorKvError.Protocol, $"{opcode} reply is malformed");
            }

            return (op.Status, default, ErrorText.Read(op.Payload));
        }
        finally
        {
            primary.Return(op);
            ArrayPool<byte>.Shared.Return(keyBuffer);
        }
    }

    private static MirrorKvException WriteError(Opcode opcode, WireStatus status, string message)
    {
        MirrorKvError error = status switch
        {
            WireStatus.KeyTooLong or WireStatus.EmptyKey => MirrorKvError.KeyTooLong,
            WireStatus.ValueTooLarge => MirrorKvError.ValueTooLarge,
            WireStatus.OutOfMemory => MirrorKvError.OutOfMemory,
            WireStatus.StaleEpoch => MirrorKvError.StaleEpoch,
            WireStatus.NotPrimary or WireStatus.ReplicationFailed => MirrorKvError.Unavailable,
            _ => MirrorKvError.Protocol,
        };
        return new MirrorKvException(error, $"{opcode} failed: {status}: {message}", status);
    }
}
