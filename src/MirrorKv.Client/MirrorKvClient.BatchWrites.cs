using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using MirrorKv.Memory;
using MirrorKv.Protocol;

namespace MirrorKv.Client;

/// <summary>Pipelined writes: every WRITE is posted before one flush, then the acknowledgements are collected.</summary>
public sealed partial class MirrorKvClient
{
    /// <summary>
    /// Sets many keys in one pipeline; returns once the pair acknowledged every one of them. Throws the first
    /// error after all the writes have been answered, so that no acknowledgement is left unread.
    /// </summary>
    public ValueTask SetManyAsync(IReadOnlyList<string> keys, IReadOnlyList<ReadOnlyMemory<byte>> values, CancellationToken cancellationToken = default) =>
        MirrorKvTelemetry.Active ? SetManyObservedAsync(keys, values, cancellationToken) : SetManyCoreAsync(keys, values, cancellationToken);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SetManyObservedAsync(IReadOnlyList<string> keys, IReadOnlyList<ReadOnlyMemory<byte>> values, CancellationToken cancellationToken)
    {
        var scope = new OperationScope("SET_MANY", _primary.EndPoint);
        try
        {
            await SetManyCoreAsync(keys, values, cancellationToken).ConfigureAwait(false);
            scope.End(null);
        }
        catch (Exception e)
        {
            scope.End(e);
            throw;
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SetManyCoreAsync(IReadOnlyList<string> keys, IReadOnlyList<ReadOnlyMemory<byte>> values, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count < keys.Count)
        {
            throw new ArgumentException("There must be a value for every key.", nameof(values));
        }

        cancellationToken.ThrowIfCancellationRequested();
        NodeChannel primary = await WritablePrimaryAsync(cancellationToken).ConfigureAwait(false);

        PendingOperation?[] ops = ArrayPool<PendingOperation?>.Shared.Rent(keys.Count);
        byte[] keyBuffer = ArrayPool<byte>.Shared.Rent(1024);
        MirrorKvException? first = null;
        try
        {
            for (int i = 0; i < keys.Count; i++)
            {
                if (Encoding.UTF8.GetMaxByteCount(keys[i].Length) > keyBuffer.Length)
                {
                    ArrayPool<byte>.Shared.Return(keyBuffer);
                    keyBuffer = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(keys[i].Length));
                }

                int keyLength = Encoding.UTF8.GetBytes(keys[i], keyBuffer);
                RemotePointer hint = TryGetCached(keys[i], out CachedPointer cached) ? cached.Pointer : default;
                PendingOperation op = primary.Rent();
                try
                {
                    primary.PostKv(op, Opcode.Write, primary.Hello.Epoch, hint, keyBuffer.AsSpan(0, keyLength), values[i].Span, flush: false);
                    ops[i] = op;
                }
                catch (Transport.ConnectionClosedException e)
                {
                    primary.Return(op);
                    ops[i] = null;
                    first ??= new MirrorKvException(MirrorKvError.Unavailable, $"the primary at {primary.EndPoint} failed before the write was sent", WireStatus.Ok, e);
                }
            }

            primary.Flush();
            for (int i = 0; i < keys.Count; i++)
            {
                if (ops[i] is not { } op)
                {
                    continue;
                }

                try
                {
                    await op.AsValueTask().ConfigureAwait(false);
                    if (op.Status == WireStatus.Ok && KvReply.TryReadAddressing(op.Payload, out RemotePointer pointer, out ulong version) == WireStatus.Ok)
                    {
                        NoteSecondary(op.Payload);
                        Remember(keys[i], new CachedPointer(pointer, version));
                    }
                    else
                    {
                        first ??= WriteError(Opcode.Write, op.Status, ErrorText.Read(op.Payload));
                    }
                }
                catch (MirrorKvException e) when (e.Error == MirrorKvError.Unavailable)
                {
                    first ??= new MirrorKvException(MirrorKvError.Unavailable, $"the primary at {primary.EndPoint} failed before acknowledging a write; it may or may not have been applied", WireStatus.Ok, e);
                }
                finally
                {
                    primary.Return(op);
                }
            }
        }
        finally
        {
            ArrayPool<PendingOperation?>.Shared.Return(ops, clearArray: true);
            ArrayPool<byte>.Shared.Return(keyBuffer);
        }

        if (first is not null)
        {
            throw first;
        }
    }
}
