using MirrorKv.Memory;
using MirrorKv.Protocol;
using MirrorKv.Store;
using MirrorKv.Transport;

namespace MirrorKv.Adapter;

/// <summary>
/// The NIC part of the adapter: one-sided READ straight from registered memory after the one access check,
/// FAILOVER_READ (translate, then read) and TRANSLATION. No index, no lock, no store-engine code runs here:
/// the region registry and the translation snapshot are both read without locks.
/// </summary>
/// <remarks>
/// Runs on the receive thread of the requesting connection. Under an evicting policy each READ served also sets
/// its slot's access byte (<see cref="AccessTracker"/>): one load and at most one plain store, no lock.
/// </remarks>
internal sealed class VerbsEngine(RegionRegistry registry, Func<TranslationSnapshot?> translation, AccessTracker? accessTracker)
{
    public void Read(IConnection connection, ConnectionState state, ulong requestId, ReadOnlySpan<byte> payload)
    {
        if (ReadRequest.TryRead(payload, out RemotePointer pointer) != WireStatus.Ok)
        {
            Replies.Error(connection, Opcode.Read, requestId, WireStatus.MalformedFrame, $"READ payload must be {ReadRequest.Size} bytes; got {payload.Length}");
            return;
        }

        Serve(connection, state, Opcode.Read, requestId, pointer, pointer);
    }

    /// <summary>
    /// Before a batch is served: starts loading the entries its READs will copy, so that their cache misses
    /// overlap (a client's batch of 16 READs hits 16 random places in the region).
    /// </summary>
    public void Prefetch(ReadOnlySpan<byte> frames, ConnectionState state)
    {
        while (frames.Length >= FrameHeader.Size + ReadRequest.Size
            && FrameHeader.TryRead(frames, state.MaxFrameSize, out FrameHeader header) == WireStatus.Ok
            && header.Length <= (uint)frames.Length)
        {
            if (header.Opcode == Opcode.Read && ReadRequest.TryRead(frames.Slice(FrameHeader.Size, header.PayloadLength), out RemotePointer pointer) == WireStatus.Ok)
            {
                registry.Prefetch(pointer, state.Grant);
            }

            frames = frames[(int)header.Length..];
        }
    }

    public void FailoverRead(IConnection connection, ConnectionState state, ulong requestId, ReadOnlySpan<byte> payload)
    {
        if (ReadRequest.TryRead(payload, out RemotePointer primary) != WireStatus.Ok)
        {
            Replies.Error(connection, Opcode.FailoverRead, requestId, WireStatus.MalformedFrame, $"FAILOVER_READ payload must be {ReadRequest.Size} bytes; got {payload.Length}");
            return;
        }

        // One lookup of the primary region: its range check, against the primary region and in the order of the
        // primary's own check (an out-of-range pointer gets the status the primary's READ would give it,
        // docs/protocol.md), then the translation.
        TranslationStatus status = TranslationStatus.UnknownRegion;
        RemotePointer local = default;
        AccessStatus range = translation()?.TryTranslateChecked(primary, out local, out status) ?? AccessStatus.UnknownRKey;
        if (range != AccessStatus.Ok)
        {
            bool mirrored = range != AccessStatus.UnknownRKey;

            // A 1.0 node said PastEnd for any address outside the primary region: 1.0 callers still get it.
            WireStatus wire = !mirrored ? WireStatus.NoTranslation
                : state.SpeaksV1_0 && range is AccessStatus.BeforeRegion or AccessStatus.LengthOverflow ? WireStatus.PastEnd
                : Replies.ToWire(range);
            Replies.Error(connection, Opcode.FailoverRead, requestId, wire,
                $"cannot translate primary pointer {primary}: {(mirrored ? range.Describe() : TranslationException.Describe(TranslationStatus.UnknownRegion))}");
            return;
        }

        if (status != TranslationStatus.Ok)
        {
            // In range, so: no record has reached that slab yet, or the range crosses a slab boundary, which no
            // entry does (and the local slabs are not contiguous): past the end of its slab.
            Replies.Error(connection, Opcode.FailoverRead, requestId, status == TranslationStatus.UnknownSlab ? WireStatus.UnknownSlab : WireStatus.PastEnd,
                $"cannot translate primary pointer {primary}: {TranslationException.Describe(status)}");
            return;
        }

        Serve(connection, state, Opcode.FailoverRead, requestId, local, primary);
    }

    public void Translation(IConnection connection, ulong requestId, ReadOnlySpan<byte> payload)
    {
        if (TranslationMessages.TryReadRequest(payload, out uint primaryRKey) != WireStatus.Ok)
        {
            Replies.Error(connection, Opcode.Translation, requestId, WireStatus.MalformedFrame, $"TRANSLATION payload must be {TranslationMessages.RequestSize} bytes with the reserved word 0");
            return;
        }

        TranslationSnapshot? snapshot = translation();
        if (snapshot is null || !snapshot.Knows(primaryRKey))
        {
            Replies.Error(connection, Opcode.Translation, requestId, WireStatus.NoTranslation, $"this node mirrors no primary region with rkey 0x{primaryRKey:x8}");
            return;
        }

        IReadOnlyList<SlabMapping> mappings = snapshot.GetMappings(primaryRKey);
        Span<byte> reply = connection.BeginPost(Opcode.Translation | Opcode.ReplyBit, WireStatus.Ok, requestId, TranslationMessages.ReplySize(mappings.Count));
        try
        {
            TranslationMessages.WriteReply(reply, snapshot.LocalRKeyOf(primaryRKey), (uint)snapshot.SlabSize, mappings);
        }
        finally
        {
            connection.EndPost();
        }
    }

    // The caller's own pointer names the refusal: for a FAILOVER_READ, the primary's (the local one is the node's).
    private void Serve(IConnection connection, ConnectionState state, Opcode opcode, ulong requestId, in RemotePointer pointer, in RemotePointer asked)
    {
        AccessStatus access = registry.Resolve(pointer, AccessFlags.RemoteRead, state.Grant, out Span<byte> bytes);
        if (access == AccessStatus.Ok && (uint)bytes.Length > state.MaxFrameSize - FrameHeader.Size)
        {
            access = AccessStatus.TooLong;
        }

        if (access != AccessStatus.Ok)
        {
            Replies.Error(connection, opcode, requestId, Replies.ToWire(access), opcode == Opcode.FailoverRead
                ? $"read of primary pointer {asked} (here {pointer}) refused: {access.Describe()}"
                : $"read of {pointer} refused: {access.Describe()}");
            return;
        }

        accessTracker?.RecordRead(pointer);
        if (opcode == Opcode.FailoverRead)
        {
            state.BatchFailoverReads++;
        }
        else
        {
            state.BatchReads++;
        }

        state.BatchReadBytes += bytes.Length;

        // The one copy of a one-sided read: registered memory straight into the send queue.
        Span<byte> reply = connection.BeginPost(opcode | Opcode.ReplyBit, WireStatus.Ok, requestId, bytes.Length);
        bytes.CopyTo(reply);
        connection.EndPost();
    }
}
