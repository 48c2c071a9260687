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
/// Copy and stream need no ordering between them: each copied slab goes through
/// <see cref="StoreEngine.ApplySlabCopy"/>, which keeps in every slot the highest version it has seen and
/// every key at its newest slot. A slot copied mid-write fails its checksum and is skipped; the write that
/// tore it came after the attach, so its record is in the stream. A slot copied before a later write is
/// overwritten by that write's record, and one copied after it is skipped as not newer.
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
    private long _tornSlots;
    private readonly System.Diagnostics.Stopwatch _copyClock = new();
    private TimeSpan _copyCpuAtStart;

    /// <summary>Slabs copied so far and in all.</summary>
    public (int Done, int Total) CopyProgress => (Volatile.Read(ref _slabsDone), _slabs.Length);

    private void StartCopy(IConnection connection)
    {
        _copyClock.Start();
        _copyCpuAtStart = Environment.CpuUsage.TotalTime;
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

        // The index grows once, to what the claimed slabs can hold, rather than doubling (and rehashing
        // every key copied so far) as the copy goes.
        long slots = 0;
        foreach ((_, uint slotSize) in _slabs)
        {
            slots += slotSize == 0 ? 0 : Math.Max(1, slabSize / slotSize);
        }

        store.ReserveIndex(slots);
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
        if (header.Status == WireStatus.UnknownRKey && (uint)index < (uint)_slabs.Length)
        {
            // The primary withdrew its region: it fenced (its lease ran out while this node copied, or it was
            // replaced). Nothing is wrong with this secondary, which holds only part of the data and so never
            // promotes: the link closes and the node joins whoever serves, as after any loss of its primary.
            LogCopyRefused(index);
            connection.Abort(null);
            return;
        }

        if ((uint)index >= (uint)_slabs.Length || header.Status != WireStatus.Ok || slab.Length != CopyLength(_slabs[index].SlotSize))
        {
            Stop(connection, $"copy of slab {index} failed: {header.Status}");
            return;
        }

        // The next READ goes out before this slab is applied, so that the primary serves it meanwhile.
        PostNextCopy(connection);
        connection.Flush();
        (ulong slabBase, uint slotSize) = _slabs[index];
        SlabCopyResult result = store.ApplySlabCopy(store.MirroredRKeyAt(slabBase), slabBase, (int)slotSize, slab);
        if (result.Status != ApplyStatus.Applied)
        {
            Stop(connection, $"copied slab at 0x{slabBase:x} could not be applied: {result.Status}");
            return;
        }

        _copiedEntries += result.Applied;
        _tornSlots += result.Torn;
        Interlocked.Increment(ref _slabsDone);
        FinishIfDone();
    }

    private void PostNextCopy(IConnection connection)
    {
        if (_nextSlab >= _slabs.Length)
        {
            return;
        }

        // The SLABS reply names slabs by address; the region holding one was listed in the HELLO reply or announced
        // by a region record, which the stream delivered before the reply (it was posted before the slab was claimed).
        int index = _nextSlab++;
        ulong slabBase = _slabs[index].SlabBase;
        uint rkey = store.MirroredRKeyAt(slabBase);
        if (rkey == 0)
        {
            Stop(connection, $"the primary listed slab 0x{slabBase:x} outside every region it announced");
            return;
        }

        ReadRequest.Write(connection.BeginPost(Opcode.Read, WireStatus.Ok, FirstCopyRequestId + (ulong)index, ReadRequest.Size),
            new Memory.RemotePointer(rkey, slabBase, CopyLength(_slabs[index].SlotSize)));
        connection.EndPost();
    }

    // A slab is copied whole; a large entry's span (a slot size of more than a slab) as its one slot, in one READ: the
    // frames this node announced hold its largest entry (NodeOptions.MaxFrameSize), as they hold its records.
    private uint CopyLength(uint slotSize) => Math.Max((uint)store.Options.SlabSize, slotSize);

    private void FinishIfDone()
    {
        if (_slabsDone == _slabs.Length && !_diverged)
        {
            // The process's CPU time over the copy (stream, GC and timers included): what the copy costs
            // whatever else shares the machine.
            double ms = _copyClock.Elapsed.TotalMilliseconds;
            double cpuMs = (Environment.CpuUsage.TotalTime - _copyCpuAtStart).TotalMilliseconds;
            double gibPerSecond = _slabs.Length * (double)store.Options.SlabSize / (1 << 30) / Math.Max(ms / 1000, 1e-9);
            role.TransitionTo(NodeRole.Secondary, role.Current.Epoch,
                $"copied {_slabs.Length} slabs ({_copiedEntries} slot images) from the primary in {ms:F1} ms ({gibPerSecond:F2} GiB/s, {cpuMs:F0} ms of CPU; {_tornSlots} torn slots left to the stream): caught up");
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "the primary withdrew its region while this node copied slab {Slab} (it fenced): joining again")]
    private partial void LogCopyRefused(int slab);

    [LoggerMessage(Level = LogLevel.Information, Message = "copying {Slabs} slabs ({MiB} MiB) from the primary with one-sided READs")]
    private partial void LogCopyStarting(int slabs, long miB);
}
