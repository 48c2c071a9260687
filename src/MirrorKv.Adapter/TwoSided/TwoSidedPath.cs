using System.Net;
using MirrorKv.Memory;
using MirrorKv.Protocol;
using MirrorKv.Store;
using MirrorKv.Transport;

namespace MirrorKv.Adapter;

/// <summary>
/// The two-sided half of the adapter: WRITE, UPDATE, DELETE and LOOKUP go to the store engine; writes
/// are fenced by role and epoch, replicated through the <see cref="ReplicationStream"/> and, in sync mode,
/// acknowledged only once the secondary has applied them.
/// </summary>
/// <remarks>Runs on the receive thread of the requesting connection.</remarks>
internal sealed class TwoSidedPath(StoreEngine store, RoleMachine role, ReplicationStream log, AckWaiters waiters, ReplicationMode mode, Func<IPEndPoint?> secondaryEndPoint, Func<ulong, bool> onNewerEpoch, NodeCounters counters, ClusterGate? cluster, IPEndPoint? followedPrimary)
{
    /// <summary>WRITE, UPDATE, DELETE or LOOKUP from a client connection.</summary>
    /// <param name="connection">The client's connection.</param>
    /// <param name="opcode">The request's opcode.</param>
    /// <param name="requestId">The request's id, carried back in the reply.</param>
    /// <param name="payload">The request's payload.</param>
    /// <param name="waitedForRoom">
    /// The connection's mark that the frame being handled already waited once for room in a full store (see
    /// <see cref="WaitForRoom"/>); cleared as the frame is served.
    /// </param>
    public void Handle(IConnection connection, Opcode opcode, ulong requestId, ReadOnlySpan<byte> payload, ref bool waitedForRoom)
    {
        if (KvRequest.TryRead(payload, out KvRequest request) != WireStatus.Ok)
        {
            Replies.Error(connection, opcode, requestId, WireStatus.MalformedFrame, $"{opcode} payload is malformed (truncated, lengths that do not match, or reserved bits set)");
            return;
        }

        if (cluster is null)
        {
            Serve(connection, opcode, requestId, request, ref waitedForRoom);
            return;
        }

        if (opcode == Opcode.Lookup)
        {
            // A key of another pair's slot is refused whatever this node's role: the client asks the owner, named in
            // the reply with the map version (docs/scale-out.md, "Redirection"); so is a key of a slot in handoff.
            if (!cluster.MayRead(request.Key, out int readSlot))
            {
                Redirect(connection, opcode, requestId, readSlot);
                return;
            }

            Serve(connection, opcode, requestId, request, ref waitedForRoom);
            return;
        }

        // A write is counted in flight from before its check until its entry is in the store, so that a slot's
        // export, once its fence is up, waits for the writes that passed the check before it (WriteDrain).
        int token = cluster.EnterWrite();
        try
        {
            if (!cluster.MayWrite(request.Key, out int slot))
            {
                Redirect(connection, opcode, requestId, slot);
                return;
            }

            Serve(connection, opcode, requestId, request, ref waitedForRoom);
        }
        finally
        {
            cluster.ExitWrite(token);
        }
    }

    private void Redirect(IConnection connection, Opcode opcode, ulong requestId, int slot)
    {
        Interlocked.Increment(ref counters.Redirects);
        Replies.Error(connection, opcode, requestId, WireStatus.Moved, cluster!.RedirectFor(slot));
    }

    private void Serve(IConnection connection, Opcode opcode, ulong requestId, in KvRequest request, ref bool waitedForRoom)
    {
        bool waited = waitedForRoom;
        waitedForRoom = false;

        (NodeRole currentRole, ulong epoch) = role.Current;
        // A promoting node holds all the data already: it answers LOOKUP, and only writes wait for Primary.
        if (currentRole is NodeRole.Stopped or NodeRole.Fenced)
        {
            Replies.Error(connection, opcode, requestId, WireStatus.NotPrimary, $"this node is {currentRole} at epoch {epoch}: ask the other node");
            return;
        }

        if (opcode == Opcode.Lookup)
        {
            if (!store.TryLookup(request.Key, out RemotePointer pointer, out ulong version, out bool pending))
            {
                // A key whose delete is not published yet is absent only once the secondary holds the delete: until
                // then a failover would bring it back, so "not found" waits for the ack as a pointer does.
                if (!pending || !Waits() || !waiters.TryWaitNotFound(log.LastLsn, connection, opcode, requestId))
                {
                    Replies.Error(connection, opcode, requestId, WireStatus.NotFound, "key not found");
                }

                return;
            }

            Interlocked.Increment(ref counters.Lookups);
            var found = new KvReply(pointer, version, epoch, (byte)WriteKind.None, secondaryEndPoint());

            // A reader sent here by an unpublished entry gets its pointer once the entry is readable: when the
            // secondary's ack of the last record covers the key's write, as for the write's own reply. With no
            // secondary to wait for, nothing is left unpublished (the loss of one publishes everything).
            if (pending && Waits() && waiters.TryWait(log.LastLsn, connection, opcode, requestId, found))
            {
                return;
            }

            Reply(connection, opcode, requestId, found);
            return;
        }

        bool claimRefused = false;
        if (request.Epoch > epoch)
        {
            claimRefused = !onNewerEpoch(request.Epoch);
            (currentRole, epoch) = role.Current;
        }

        if (currentRole != NodeRole.Primary)
        {
            // A secondary names the primary it follows, so that a tool pointed at the wrong node knows where to go.
            string where = currentRole is NodeRole.Secondary or NodeRole.Rejoining && followedPrimary is not null ? $" at {followedPrimary}" : "";
            Replies.Error(connection, opcode, requestId, WireStatus.NotPrimary, $"this node is {currentRole} at epoch {epoch}: writes go to the primary{where}");
            return;
        }

        // Epoch 0 means "not known yet": a tool that has not seen a HELLO. Anything else must match exactly.
        if (request.Epoch != 0 && request.Epoch != epoch)
        {
            string who = request.Epoch < epoch ? "the request's epoch is older"
                : claimRefused ? "no node of this pair has the request's epoch (this primary's secondary confirms its epoch)"
                : "this node's epoch is older (it has been replaced)";
            Replies.Error(connection, opcode, requestId, WireStatus.StaleEpoch, $"request epoch {request.Epoch}, node epoch {epoch}: {who}");
            return;
        }

        // A primary newly in charge takes a cluster key's write only once its view was read after its claim (the
        // next read of etcd, moments later): a fence published before the claim must be in force here first.
        if (cluster is not null && !cluster.LeadsUnder(epoch))
        {
            Redirect(connection, opcode, requestId, HashSlot.Of(request.Key));
            return;
        }

        StoreWriteResult result = opcode switch
        {
            Opcode.Write => store.Write(request.Key, request.Value, request.Pointer),
            Opcode.Update => store.Update(request.Key, request.Value, request.Pointer),
            _ => store.Delete(request.Key, request.Pointer),
        };

        if (!result.IsOk)
        {
            if (result.Status == StoreStatus.OutOfMemory && !waited && WaitForRoom(connection))
            {
                waitedForRoom = true;
                return;
            }

            Replies.Error(connection, opcode, requestId, Replies.ToWire(result.Status), Describe(result.Status, request));
            return;
        }

        Interlocked.Increment(ref opcode == Opcode.Delete ? ref counters.Deletes : ref counters.Writes);
        var reply = new KvReply(result.Pointer, result.Version, epoch, (byte)result.Kind, secondaryEndPoint());
        if (Waits() && waiters.TryWait(log.LastLsn, connection, opcode, requestId, reply))
        {
            return;
        }

        Reply(connection, opcode, requestId, reply);
    }

    /// <summary>
    /// GET (protocol 1.2): the key's value with its addressing data, answered as LOOKUP is (any role that serves,
    /// held while the value or the key's absence is not published). The value is copied out under the store lock,
    /// so a held answer carries the value the ack publishes, whatever writes follow: a reader of a key written
    /// faster than the replication round trip, whose slot is unpublished nearly always, still gets an answer.
    /// </summary>
    public void Get(IConnection connection, uint maxFrameSize, ulong requestId, ReadOnlySpan<byte> payload)
    {
        if (KvRequest.TryRead(payload, out KvRequest request) != WireStatus.Ok)
        {
            Replies.Error(connection, Opcode.Get, requestId, WireStatus.MalformedFrame, "GET payload is malformed (truncated, lengths that do not match, or reserved bits set)");
            return;
        }

        // As LOOKUP: a key of another pair's slot (or of one in handoff) is refused with the owner, whatever this node holds.
        if (cluster is not null && !cluster.MayRead(request.Key, out int slot))
        {
            Redirect(connection, Opcode.Get, requestId, slot);
            return;
        }

        (NodeRole currentRole, ulong epoch) = role.Current;
        if (currentRole is NodeRole.Stopped or NodeRole.Fenced)
        {
            Replies.Error(connection, Opcode.Get, requestId, WireStatus.NotPrimary, $"this node is {currentRole} at epoch {epoch}: ask the other node");
            return;
        }

        var copy = new ValueCopy();
        if (!store.TryGet(request.Key, ref copy, out RemotePointer pointer, out ulong version, out bool pending))
        {
            if (!pending || !Waits() || !waiters.TryWaitNotFound(log.LastLsn, connection, Opcode.Get, requestId))
            {
                Replies.Error(connection, Opcode.Get, requestId, WireStatus.NotFound, "key not found");
            }

            return;
        }

        byte[] value = copy.Buffer!;
        if (KvReply.Size + copy.Length > maxFrameSize - FrameHeader.Size)
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(value);
            Replies.Error(connection, Opcode.Get, requestId, WireStatus.TooLong, $"a value of {copy.Length} bytes does not fit this connection's frames ({maxFrameSize} bytes): LOOKUP the key and READ it");
            return;
        }

        Interlocked.Increment(ref counters.Lookups);
        var found = new KvReply(pointer, version, epoch, (byte)WriteKind.None, secondaryEndPoint());
        if (pending && Waits() && waiters.TryWaitValue(log.LastLsn, connection, requestId, found, value, copy.Length))
        {
            return;
        }

        try
        {
            Replies.Value(connection, requestId, found, value.AsSpan(0, copy.Length));
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(value);
        }
    }

    private bool Waits() => mode == ReplicationMode.Sync && (log.Peer is not null || waiters.Holding);

    private static void Reply(IConnection connection, Opcode opcode, ulong requestId, in KvReply reply)
    {
        reply.Write(connection.BeginPost(opcode | Opcode.ReplyBit, WireStatus.Ok, requestId, KvReply.Size));
        connection.EndPost();
    }

    // Copies a value out from under the store lock into a rented array: GET is a fallback path, and a held answer
    // must keep the value it found.
    private struct ValueCopy : IValueVisitor
    {
        public byte[]? Buffer;
        public int Length;

        public void Visit(ReadOnlySpan<byte> value)
        {
            Buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Max(value.Length, 1));
            value.CopyTo(Buffer);
            Length = value.Length;
        }
    }

    // A full store under an evicting policy may hold nothing it may evict yet: an entry whose write waits for the
    // secondary's ack is not evicted (its writer has not heard of it), and a pipeline of large values fills a small
    // store with such entries faster than the acks come. Once the secondary has applied what was written so far they
    // are evictable: the frame is delivered again then (the connection reads nothing meanwhile, so nothing overtakes
    // it), and only a second refusal reaches the client. As RespHandler.RunAgainOncePublished.
    // When the ack came between the refusal and here, the frame runs again at once.
    private bool WaitForRoom(IConnection connection)
    {
        if (store.Options.Eviction == EvictionPolicy.NoEviction || mode != ReplicationMode.Sync)
        {
            return false;
        }

        var published = new AckTurn(connection);
        connection.HoldReceivesUntil(waiters.TryWait(log.LastLsn, published) ? published.Due : Task.CompletedTask);
        connection.DeliverAgain();
        return true;
    }

    private string Describe(StoreStatus status, in KvRequest request) => status switch
    {
        StoreStatus.NotFound => "key not found",
        StoreStatus.EmptyKey => "keys must have at least one byte",
        StoreStatus.KeyTooLong => $"key of {request.Key.Length} bytes exceeds the limit of {store.Options.MaxKeyLength}",
        StoreStatus.ValueTooLarge => $"value of {request.Value.Length} bytes exceeds the limit of {store.Options.EffectiveMaxValueLength}",
        StoreStatus.OutOfMemory => FullStoreText.For(store.Options.Eviction),
        _ => status.ToString(),
    };
}
