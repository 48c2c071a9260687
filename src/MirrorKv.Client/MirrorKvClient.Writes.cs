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
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SetAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
    {
        (WireStatus status, CachedPointer written, string error) = await SendWriteAsync(Opcode.Write, key, value, cancellationToken).ConfigureAwait(false);
        if (status != WireStatus.Ok)
        {
            throw WriteError(Opcode.Write, status, error);
        }

        Remember(key, written);
    }

    /// <summary>Deletes a key; false when it was not there.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        (WireStatus status, _, string error) = await SendWriteAsync(Opcode.Delete, key, default, cancellationToken).ConfigureAwait(false);
        _table.TryRemove(key, out _);
        return status == WireStatus.NotFound ? false : status == WireStatus.Ok ? true : throw WriteError(Opcode.Delete, status, error);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<(WireStatus Status, CachedPointer Written, string Error)> SendWriteAsync(Opcode opcode, string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        NodeChannel primary = _primary;
        if (!primary.IsHealthy)
        {
            throw Unavailable($"the primary at {primary.EndPoint} is down; writes resume once a secondary is promoted");
        }

        byte[] keyBuffer = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(key.Length));
        PendingOperation op = primary.Rent();
        try
        {
            int keyLength = Encoding.UTF8.GetBytes(key, keyBuffer);
            RemotePointer hint = _table.TryGetValue(key, out PointerCell? cell) ? cell.Read().Pointer : default;
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
            WireStatus.NotPrimary => MirrorKvError.Unavailable,
            _ => MirrorKvError.Protocol,
        };
        return new MirrorKvException(error, $"{opcode} failed: {status}: {message}", status);
    }
}
