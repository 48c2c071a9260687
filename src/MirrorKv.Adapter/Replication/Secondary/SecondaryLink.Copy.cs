using MirrorKv.Memory;
using MirrorKv.Protocol;
using MirrorKv.Store;
using MirrorKv.Transport;
using Microsoft.Extensions.Logging;

namespace MirrorKv.Adapter;

/// <summary>
/// Joining: copy the primary's claimed slabs with large one-sided READs while the stream already flows,
/// then declare the secondary caught up.
/// </summary>
/// <remarks>
/// Copy and stream need no ordering between them: every slot is applied through
/// <see cref="StoreEngine.Apply"/>, which keeps the highest version a slot has seen. A slot copied
/// mid-write fails its checksum and is skipped; the write that tore it came after the attach, so its
/// record is in the stream. A slot copied before a later write is overwritten by that write's record,
/// and one copied after it is skipped as not newer.
/// </remarks>
internal sealed partial class SecondaryLink
{
    private const ulong SlabsRequestId = 2;
    private const ulong FirstCopyRequestId = 1000;

    // Enough READs in flight to keep the link busy; each is a whole slab (1 MiB by default).
    private const int CopyPipeline = 4;

    private (ulong SlabBase, uint SlotSize)[] _slabs = [];
    private int _nextSlab;
    private int _slabsDone;
    private long _copiedEntries;
    private readonly System.Diagnostics.Stopwatch _copyClock = new();

    /// <summary>Slabs copied so far and in all.</summary>
    public (int Done, int Total) CopyProgress => (Volatile.Read(ref _slabsDone), _slabs.Length);

    private void StartCopy(IConnection connection)
    {
        _copyClock.Start();
        connection.BeginPost(Opcode.Slabs, WireStatus.Ok, SlabsRequestId, SlabsMessages.RequestSize).Clear();
        connection.EndPost();
        connection.Flush();
    }

    private void OnSlabs(IConnection connection, in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.Status != WireStatus.Ok || SlabsMessages.TryReadReply(payload, out uint slabSize, out _slabs) != WireStatus.Ok || slabSize != (uint)store.Options.SlabSize)
        {
            Stop(connection, $"the primary's SLABS reply was {header.Status} or malformed");
            return;
        }

        LogCopyStarting(_slabs.Length, (long)_slabs.Length * slabSize >> 20);
        for (int i = 0; i < CopyPipeline; i++)
        {
            PostNextCopy(connection);
        }

        connection.Flush();
        FinishIfDone();
    }

    private void OnSlabCopied(IConnection connection, in FrameHeader header, ReadOnlySpan<byte> slab)
    {
        int index = (int)(header.RequestId - FirstCopyRequestId);
        if ((uint)index >= (uint)_slabs.Length || header.Status != WireStatus.Ok || slab.Length != store.Options.SlabSize)
        {
            Stop(connection, $"copy of slab {index} failed: {header.Status}");
            return;
        }

        (ulong slabBase, uint slotSize) = _slabs[index];
        for (int offset = 0; offset + slotSize <= slab.Length; offset += (int)slotSize)
        {
            ReadOnlySpan<byte> slot = slab.Slice(offset, (int)slotSize);
            if (!EntryValidator.TryParse(slot, out ulong version, out EntryFlags flags, out int keyLength, out int valueLength))
            {
                continue;
            }

            var change = new SlotChange(new RemotePointer(Primary!.Regions[0].RKey, slabBase + (ulong)offset, slotSize), version, flags,
                slot.Slice(EntryLayout.HeaderSize, keyLength), slot.Slice(EntryLayout.HeaderSize + keyLength, valueLength));
            ApplyStatus status = store.Apply(change);
            if (status is not (ApplyStatus.Applied or ApplyStatus.AlreadyApplied))
            {
                Stop(connection, $"copied slot at 0x{slabBase + (ulong)offset:x} could not be applied: {status}");
                return;
            }

            _copiedEntries++;
        }

        Interlocked.Increment(ref _slabsDone);
        PostNextCopy(connection);
        connection.Flush();
        FinishIfDone();
    }

    private void PostNextCopy(IConnection connection)
    {
        if (_nextSlab >= _slabs.Length)
        {
            return;
        }

        int index = _nextSlab++;
        ReadRequest.Write(connection.BeginPost(Opcode.Read, WireStatus.Ok, FirstCopyRequestId + (ulong)index, ReadRequest.Size),
            new RemotePointer(Primary!.Regions[0].RKey, _slabs[index].SlabBase, (uint)store.Options.SlabSize));
        connection.EndPost();
    }

    private void FinishIfDone()
    {
        if (_slabsDone == _slabs.Length && !_diverged)
        {
            role.TransitionTo(NodeRole.Secondary, role.Current.Epoch, $"copied {_slabs.Length} slabs ({_copiedEntries} slot images) from the primary in {_copyClock.Elapsed.TotalMilliseconds:F1} ms: caught up");
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "copying {Slabs} slabs ({MiB} MiB) from the primary with one-sided READs")]
    private partial void LogCopyStarting(int slabs, long miB);
}
