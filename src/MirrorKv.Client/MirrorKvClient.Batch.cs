using System.Runtime.CompilerServices;
using System.Buffers;
using System.Diagnostics;
using System.Text;
using MirrorKv.Memory;
using MirrorKv.Protocol;

namespace MirrorKv.Client;

/// <summary>Pipelined reads: every cached pointer is posted before one flush, then the replies are judged.</summary>
public sealed partial class MirrorKvClient
{
    /// <summary>Reads many keys in one pipeline; the result holds null for a key not in the store.</summary>
    public async Task<byte[]?[]> GetManyAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var writers = new ArrayBufferWriter<byte>[keys.Count];
        var found = new bool[keys.Count];
        for (int i = 0; i < writers.Length; i++)
        {
            writers[i] = new ArrayBufferWriter<byte>();
        }

        await TryGetManyAsync(keys, writers, found, cancellationToken).ConfigureAwait(false);
        var results = new byte[]?[keys.Count];
        for (int i = 0; i < results.Length; i++)
        {
            results[i] = found[i] ? writers[i].WrittenSpan.ToArray() : null;
        }

        return results;
    }

    /// <summary>
    /// Reads many keys in one pipeline into caller-owned writers; <paramref name="found"/>[i] says whether key i
    /// was in the store. Keys with a cached pointer cost one READ each, all sent in one write; the others,
    /// and any read that does not validate, take the single-key path.
    /// </summary>
    public ValueTask TryGetManyAsync(IReadOnlyList<string> keys, IReadOnlyList<IBufferWriter<byte>> destinations, bool[] found, CancellationToken cancellationToken = default) =>
        MirrorKvTelemetry.Active ? TryGetManyObservedAsync(keys, destinations, found, cancellationToken) : TryGetManyCoreAsync(keys, destinations, found, cancellationToken);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask TryGetManyObservedAsync(IReadOnlyList<string> keys, IReadOnlyList<IBufferWriter<byte>> destinations, bool[] found, CancellationToken cancellationToken)
    {
        var scope = new OperationScope("GET_MANY", _primary.EndPoint, keys.Count);
        try
        {
            await TryGetManyCoreAsync(keys, destinations, found, cancellationToken).ConfigureAwait(false);
            scope.End(null);
        }
        catch (Exception e)
        {
            scope.End(e);
            throw;
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask TryGetManyCoreAsync(IReadOnlyList<string> keys, IReadOnlyList<IBufferWriter<byte>> destinations, bool[] found, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(destinations);
        ArgumentNullException.ThrowIfNull(found);
        if (destinations.Count < keys.Count || found.Length < keys.Count)
        {
            throw new ArgumentException("There must be a destination and a found flag for every key.");
        }

        int count = keys.Count;
        KeyBatch batch = RentKeyBatch(count);
        PendingOperation?[] ops = batch.Ops;
        NodeChannel?[] channels = batch.Channels;
        CachedPointer[] pointers = batch.Pointers;
        bool[] absent = batch.Absent;
        ulong[] hashes = batch.Hashes;
        Opcode[] opcodes = batch.Opcodes;
        byte[] parts = batch.Parts;
        try
        {
            // One table lookup per key, their cache misses overlapped; only a batch with unknown keys pays
            // for the LOOKUP round trip.
            for (int i = 0; i < count; i++)
            {
                hashes[i] = _table.HashAndPrefetch(keys[i]);
            }

            int uncached = 0;
            for (int i = 0; i < count; i++)
            {
                absent[i] = false;
                if (!_table.TryGet(hashes[i], out pointers[i]))
                {
                    uncached++;
                }
            }

            if (uncached > 0)
            {
                await LookupUncachedAsync(keys, pointers, absent).ConfigureAwait(false);
            }

            // Route every read, then post each node's reads as parts of batch operations: one rent, one
            // completion and one resumption per node and batch, not per read.
            // The usual case, a healthy primary and its pointers, is decided once per batch.
            NodeChannel? first = null, second = null;
            NodeChannel primary = _primary;
            bool primaryHealthy = primary.IsHealthy;
            for (int i = 0; i < count; i++)
            {
                if (absent[i] || pointers[i].Pointer.IsNull)
                {
                    continue;
                }

                (NodeChannel? channel, Opcode opcode) = primaryHealthy && primary.Owns(pointers[i].Pointer.RKey) ? (primary, Opcode.Read) : RouteRead(pointers[i].Pointer);
                channels[i] = channel;
                opcodes[i] = opcode;
                if (channel is not null && first is null)
                {
                    first = channel;
                }
                else if (channel is not null && channel != first)
                {
                    second = channel;
                }
            }

            long now = Stopwatch.GetTimestamp();
            PostParts(batch, first, count, now);
            PostParts(batch, second, count, now);

            // Last posted first: a node answers a connection's requests in order, so once the last reply is
            // in, the others most likely are too.
            List<(PendingOperation Op, NodeChannel Channel)> rented = batch.Rented;
            for (int r = rented.Count - 1; r >= 0; r--)
            {
                try
                {
                    await rented[r].Op.AsValueTask().ConfigureAwait(false);
                }
                catch (Exception e) when (e is MirrorKvException { Error: MirrorKvError.Unavailable } or Transport.ConnectionClosedException)
                {
                    // The node failed under the batch: its keys take the single-key path, which retries elsewhere.
                    Interlocked.Increment(ref _retriedAfterFailure);
                }
            }

            for (int i = 0; i < count; i++)
            {
                found[i] = !absent[i] && ops[i] is { } op && !op.Faulted
                    && TryAccept(op.PartStatus(parts[i]), op.PartPayload(parts[i]), keys[i], pointers[i], destinations[i]);
            }

            batch.ReturnOperations();
            for (int i = 0; i < count; i++)
            {
                if (!found[i] && !absent[i])
                {
                    found[i] = await TryGetAsync(keys[i], destinations[i], cancellationToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            ReturnKeyBatch(batch, count);
        }
    }

    // Posts the batch's reads routed to channel as parts of batch operations (up to MaxParts each), flushed
    // once. A read the channel cannot take (closed meanwhile) stays without an operation: single-key path.
    private void PostParts(KeyBatch batch, NodeChannel? channel, int count, long now)
    {
        if (channel is null)
        {
            return;
        }

        int routed = 0;
        for (int i = 0; i < count; i++)
        {
            routed += batch.Channels[i] == channel ? 1 : 0;
        }

        PendingOperation? op = null;
        int part = 0, reads = 0, failoverReads = 0;
        try
        {
            for (int i = 0; i < count && routed > 0; i++)
            {
                if (batch.Channels[i] != channel)
                {
                    continue;
                }

                if (op is null || part == op.Parts)
                {
                    op = channel.Rent(now, Math.Min(routed, PendingOperation.MaxParts));
                    batch.Rented.Add((op, channel));
                    part = 0;
                }

                channel.PostRead(op, batch.Opcodes[i], batch.Pointers[i].Pointer, flush: false, part);
                batch.Ops[i] = op;
                batch.Parts[i] = (byte)part;
                part++;
                routed--;
                if (batch.Opcodes[i] == Opcode.FailoverRead)
                {
                    failoverReads++;
                }
                else
                {
                    reads++;
                }
            }
        }
        catch (Transport.ConnectionClosedException e)
        {
            // Parts of this operation were never posted: it can only fail, and its keys with it.
            op?.TryFail(e);
        }

        channel.Flush();
        CountRead(Opcode.Read, reads);
        CountRead(Opcode.FailoverRead, failoverReads);
    }

    private KeyBatch RentKeyBatch(int count)
    {
        KeyBatch? batch;
        lock (_keyBatches)
        {
            _keyBatches.TryPop(out batch);
        }

        batch ??= new KeyBatch();
        batch.EnsureCapacity(count);
        return batch;
    }

    private void ReturnKeyBatch(KeyBatch batch, int used)
    {
        batch.Clear(used);
        lock (_keyBatches)
        {
            // As many as batches ran at once, bounded: a burst of concurrent callers leaves no more behind.
            if (_keyBatches.Count < 64)
            {
                _keyBatches.Push(batch);
            }
        }
    }

    /// <summary>
    /// Keys of the batch with no cached pointer get their LOOKUPs in one pipelined round trip (instead of one
    /// round trip each down the single-key path); <paramref name="pointers"/>[i] gets the pointer learned,
    /// <paramref name="absent"/>[i] is set for keys the node does not hold. Failures leave the key to the
    /// single-key path, which retries elsewhere.
    /// </summary>
    private async ValueTask LookupUncachedAsync(IReadOnlyList<string> keys, CachedPointer[] pointers, bool[] absent)
    {
        NodeChannel channel = _primary;
        if (!channel.IsHealthy)
        {
            return;
        }

        PendingOperation?[] ops = ArrayPool<PendingOperation?>.Shared.Rent(keys.Count);
        byte[] keyBuffer = ArrayPool<byte>.Shared.Rent(4096);
        int posted = 0;
        try
        {
            for (int i = 0; i < keys.Count; i++)
            {
                ops[i] = null;
                if (!pointers[i].Pointer.IsNull || Encoding.UTF8.GetMaxByteCount(keys[i].Length) > keyBuffer.Length)
                {
                    continue;
                }

                int keyLength = Encoding.UTF8.GetBytes(keys[i], keyBuffer);
                PendingOperation op = channel.Rent();
                try
                {
                    channel.PostKv(op, Opcode.Lookup, 0, default, keyBuffer.AsSpan(0, keyLength), default, flush: false);
                }
                catch (Transport.ConnectionClosedException)
                {
                    channel.Return(op);
                    break;
                }

                ops[i] = op;
                posted++;
            }

            if (posted == 0)
            {
                return;
            }

            channel.Flush();
            Interlocked.Add(ref _lookups, posted);
            MirrorKvTelemetry.Lookups.Add(posted);
            for (int i = 0; i < keys.Count; i++)
            {
                if (ops[i] is not { } op)
                {
                    continue;
                }

                try
                {
                    await op.AsValueTask().ConfigureAwait(false);
                    if (op.Status == WireStatus.NotFound)
                    {
                        absent[i] = true;
                    }
                    else if (op.Status == WireStatus.Ok && KvReply.TryReadAddressing(op.Payload, out RemotePointer pointer, out ulong version) == WireStatus.Ok)
                    {
                        pointers[i] = new CachedPointer(pointer, version);
                        Remember(keys[i], pointers[i]);
                    }
                }
                catch (Exception e) when (e is MirrorKvException { Error: MirrorKvError.Unavailable } or Transport.ConnectionClosedException)
                {
                    Interlocked.Increment(ref _retriedAfterFailure);
                }
                finally
                {
                    channel.Return(op);
                }
            }
        }
        finally
        {
            ArrayPool<PendingOperation?>.Shared.Return(ops, clearArray: true);
            ArrayPool<byte>.Shared.Return(keyBuffer);
        }
    }

    // Judges a batched READ like a single one (Judge), with the key encoded on the stack when short, so that
    // judging a batch allocates and rents nothing.
    [SkipLocalsInit]
    private static bool TryAccept(WireStatus status, ReadOnlySpan<byte> payload, string key, in CachedPointer cached, IBufferWriter<byte> destination)
    {
        int maxKeyBytes = Encoding.UTF8.GetMaxByteCount(key.Length);
        byte[]? rented = maxKeyBytes > 256 ? ArrayPool<byte>.Shared.Rent(maxKeyBytes) : null;
        Span<byte> keyBytes = rented ?? stackalloc byte[256];
        try
        {
            int keyLength = Encoding.UTF8.GetBytes(key, keyBytes);
            return Judge(status, payload, keyBytes[..keyLength], cached, destination) == ReadOutcome.Done;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }
}
