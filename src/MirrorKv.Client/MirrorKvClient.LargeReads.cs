using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using MirrorKv.Memory;
using MirrorKv.Protocol;

namespace MirrorKv.Client;

/// <summary>
/// Reads of large entries: a slot longer than one READ may return (the frame this client announced in HELLO, less
/// the header) is read in pieces, one READ (or FAILOVER_READ) per piece at consecutive offsets, pipelined as the
/// parts of one operation, and validated whole once every piece is in: the version at the entry's start, the key,
/// and the checksum over the whole entry. A write that lands between two pieces changes the version or fails the
/// checksum, so the copy is judged torn, as a single READ that races a write is (docs/protocol.md, "Large entries").
/// </summary>
/// <remarks>
/// The piece size is a fixed property of this client (its HELLO announces <see cref="ProtocolLimits.DefaultMaxFrameSize"/>),
/// so a node of any version serves the pieces: they are plain READs of a range inside one region. The small-value
/// path only compares the pointer's length with it. Large reads are not hedged: they go to one node.
/// </remarks>
public sealed partial class MirrorKvClient
{
    /// <summary>The most one READ returns to this client: the frame it announces, less the frame header.</summary>
    internal const uint MaxReadPiece = ProtocolLimits.DefaultMaxFrameSize - FrameHeader.Size;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadOutcome> ReadLargeAsync(NodeChannel channel, Opcode opcode, CachedPointer cached, byte[] keyBuffer, int keyLength, IBufferWriter<byte> destination)
    {
        RemotePointer pointer = cached.Pointer;
        int parts = (int)((pointer.Length + MaxReadPiece - 1) / MaxReadPiece);
        if (parts > PendingOperation.MaxParts)
        {
            // No node stores an entry this long (values are at most 64 MiB): a pointer that says so is bogus.
            return ReadOutcome.Stale;
        }

        PendingOperation op = channel.Rent(Stopwatch.GetTimestamp(), parts);
        try
        {
            op.Reserve((int)pointer.Length);
            for (int part = 0; part < parts; part++)
            {
                uint offset = (uint)part * MaxReadPiece;
                var piece = new RemotePointer(pointer.RKey, pointer.Address + offset, Math.Min(MaxReadPiece, pointer.Length - offset));
                channel.PostRead(op, opcode, piece, flush: part == parts - 1, part);
            }

            CountRead(opcode, parts);
            await op.AsValueTask().ConfigureAwait(false);
            for (int part = 0; part < parts; part++)
            {
                if (op.PartStatus(part) != WireStatus.Ok)
                {
                    return Judge(op.PartStatus(part), op.PartPayload(part), keyBuffer.AsSpan(0, keyLength), cached, destination);
                }
            }

            return JudgeAssembled(op, parts, keyBuffer.AsSpan(0, keyLength), cached, destination);
        }
        catch (Exception e) when (e is MirrorKvException { Error: MirrorKvError.Unavailable } or Transport.ConnectionClosedException)
        {
            return ReadOutcome.Failed;
        }
        finally
        {
            channel.Return(op);
        }
    }

    // The pieces arrive in the operation's buffer one after another in the order they came; a node answers a
    // connection's requests in order, so they are nearly always the entry as it lies. Otherwise they are put in order.
    private static ReadOutcome JudgeAssembled(PendingOperation op, int parts, ReadOnlySpan<byte> key, in CachedPointer cached, IBufferWriter<byte> destination)
    {
        int length = 0;
        bool inOrder = true;
        for (int part = 0; part < parts; part++)
        {
            inOrder &= op.PartOffset(part) == length;
            length += op.PartPayload(part).Length;
        }

        if (inOrder)
        {
            return Judge(WireStatus.Ok, op.Payload, key, cached, destination);
        }

        byte[] whole = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            int at = 0;
            for (int part = 0; part < parts; part++)
            {
                ReadOnlySpan<byte> piece = op.PartPayload(part);
                piece.CopyTo(whole.AsSpan(at));
                at += piece.Length;
            }

            return Judge(WireStatus.Ok, whole.AsSpan(0, length), key, cached, destination);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(whole);
        }
    }
}
