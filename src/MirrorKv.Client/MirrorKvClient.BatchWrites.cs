using System.Buffers;
using System.Diagnostics;
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
        var scope = new OperationScope("SET_MANY", _router.Route.Primary.EndPoint, keys.Count);
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
    // Values up to this length fit any frame of the node whatever the key (the key is at most 64 KiB).
    private static long MaxBatchValue(NodeChannel primary) => primary.Hello.MaxFrameSize - FrameHeader.Size - KvRequest.FixedSize - ushort.MaxValue;

    // Parts of the next batch operation from write i: the writes that are sent, up to MaxParts.
    private static int PartsFrom(int i, int count, bool[]? tooLarge)
    {
        int parts = 0;
        for (int j = i; j < count && parts < PendingOperation.MaxParts; j++)
        {
            parts += tooLarge?[j] == true ? 0 : 1;
        }

        return parts;
    }

    private async ValueTask SetManyCoreAsync(IReadOnlyList<string> keys, IReadOnlyList<ReadOnlyMemory<byte>> values, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count < keys.Count)
        {
            throw new ArgumentException("There must be a value for every key.", nameof(values));
        }

        cancellationToken.ThrowIfCancellationRequested();
        NodeChannel primary = await _router.WritablePrimaryAsync(Stopwatch.GetTimestamp(), cancellationToken).ConfigureAwait(false);

        // Like a batch of reads: the table's cache misses overlapped, the WRITEs posted as parts of batch
        // operations (one rent, one completion and one resumption per batch), one flush.
        int count = keys.Count;
        KeyBatch batch = RentKeyBatch(count);
        PendingOperation?[] ops = batch.Ops;
        byte[] parts = batch.Parts;
        ulong[] hashes = batch.Hashes;
        byte[] keyBuffer = ArrayPool<byte>.Shared.Rent(1024);
        MirrorKvException? first = null;
        List<int>? resend = null;
        try
        {
            // A value no frame of the node holds is not sent (the node would close the connection): the single-key
            // path below refuses it. Noted only when there is one.
            bool[]? tooLarge = null;
            for (int i = 0; i < count; i++)
            {
                hashes[i] = _table.HashAndPrefetch(keys[i]);
                if (values[i].Length > MaxBatchValue(primary) && !FitsFrame(primary, Encoding.UTF8.GetByteCount(keys[i]), values[i].Length))
                {
                    tooLarge ??= new bool[count];
                    tooLarge[i] = true;
                }
            }

            long now = Stopwatch.GetTimestamp();
            PendingOperation? op = null;
            int part = 0;
            for (int i = 0; i < count; i++)
            {
                if (Encoding.UTF8.GetMaxByteCount(keys[i].Length) > keyBuffer.Length)
                {
                    ArrayPool<byte>.Shared.Return(keyBuffer);
                    keyBuffer = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(keys[i].Length));
                }

                if (tooLarge?[i] == true)
                {
                    continue;
                }

                int keyLength = Encoding.UTF8.GetBytes(keys[i], keyBuffer);

                RemotePointer hint = _table.TryGet(hashes[i], out CachedPointer cached) ? cached.Pointer : default;
                if (op is null || part == op.Parts)
                {
                    op = primary.Rent(now, PartsFrom(i, count, tooLarge));
                    batch.Rented.Add((op, primary));
                    part = 0;
                }

                try
                {
                    primary.PostKv(op, Opcode.Write, primary.Hello.Epoch, hint, keyBuffer.AsSpan(0, keyLength), values[i].Span, flush: false, part);
                }
                catch (Transport.ConnectionClosedException e)
                {
                    // This write and the rest were never sent (they go down the single-key path below); the
                    // operation, missing parts, can only fail.
                    op.TryFail(e);
                    break;
                }

                ops[i] = op;
                parts[i] = (byte)part++;
            }

            primary.Flush();
            Exception? failure = null;
            foreach ((PendingOperation rented, NodeChannel _) in batch.Rented)
            {
                try
                {
                    await rented.AsValueTask().ConfigureAwait(false);
                }
                catch (Exception e) when (e is MirrorKvException { Error: MirrorKvError.Unavailable } or Transport.ConnectionClosedException)
                {
                    failure ??= e;
                }
            }

            for (int i = 0; i < count; i++)
            {
                // Never sent, unanswered (the primary failed: applied or not), or not taken: sent again below.
                if (ops[i] is not { } posted || !posted.PartReceived(parts[i]) || IsNotApplied(posted.PartStatus(parts[i])))
                {
                    (resend ??= []).Add(i);
                    continue;
                }

                ReadOnlySpan<byte> payload = posted.PartPayload(parts[i]);
                WireStatus status = posted.PartStatus(parts[i]);
                if (status == WireStatus.Ok && KvReply.TryReadAddressing(payload, out RemotePointer pointer, out ulong version) == WireStatus.Ok)
                {
                    _router.NoteSecondary(payload);
                    _table.Set(hashes[i], new CachedPointer(pointer, version));
                }
                else
                {
                    first ??= WriteError(Opcode.Write, status, ErrorText.Read(payload));
                }
            }

            if (resend is not null && failure is null)
            {
                // The connection held, so the node answered that it no longer takes writes: find who does.
                primary.Invalidate("refused a batched write as no longer the primary");
            }
        }
        finally
        {
            ReturnKeyBatch(batch, count);
            ArrayPool<byte>.Shared.Return(keyBuffer);
        }

        // The writes the pair did not take go one by one to whoever serves now, each within PromotionWait, as a
        // single SetAsync would; a failover costs a batch its pipelining, not its writes.
        for (int r = 0; resend is not null && r < resend.Count; r++)
        {
            try
            {
                await SetCoreAsync(keys[resend[r]], values[resend[r]], cancellationToken).ConfigureAwait(false);
            }
            catch (MirrorKvException e)
            {
                first ??= e;
            }
        }

        if (first is not null)
        {
            throw first;
        }
    }
}
