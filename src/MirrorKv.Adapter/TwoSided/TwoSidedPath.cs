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
internal sealed class TwoSidedPath(StoreEngine store, RoleMachine role, ReplicationStream log, AckWaiters waiters, ReplicationMode mode, Func<IPEndPoint?> secondaryEndPoint, Action<ulong> onNewerEpoch, NodeCounters counters)
{
    public void Handle(IConnection connection, Opcode opcode, ulong requestId, ReadOnlySpan<byte> payload)
    {
        if (KvRequest.TryRead(payload, out KvRequest request) != WireStatus.Ok)
        {
            Replies.Error(connection, opcode, requestId, WireStatus.MalformedFrame, $"{opcode} payload is malformed (truncated, lengths that do not match, or reserved bits set)");
            return;
        }

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
                Replies.Error(connection, opcode, requestId, WireStatus.NotFound, "key not found");
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

        if (request.Epoch > epoch)
        {
            onNewerEpoch(request.Epoch);
            (currentRole, epoch) = role.Current;
        }

        if (currentRole != NodeRole.Primary)
        {
            Replies.Error(connection, opcode, requestId, WireStatus.NotPrimary, $"this node is {currentRole} at epoch {epoch}: writes go to the primary");
            return;
        }

        // Epoch 0 means "not known yet": a tool that has not seen a HELLO. Anything else must match exactly.
        if (request.Epoch != 0 && request.Epoch != epoch)
        {
            string who = request.Epoch < epoch ? "the request's epoch is older" : "this node's epoch is older (it has been replaced)";
            Replies.Error(connection, opcode, requestId, WireStatus.StaleEpoch, $"request epoch {request.Epoch}, node epoch {epoch}: {who}");
            return;
        }

        StoreWriteResult result = opcode switch
        {
            Opcode.Write => store.Write(request.Key, request.Value, request.Pointer),
            Opcode.Update => store.Update(request.Key, request.Value, request.Pointer),
            _ => store.Delete(request.Key),
        };

        if (!result.IsOk)
        {
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

    private bool Waits() => mode == ReplicationMode.Sync && (log.Peer is not null || waiters.Holding);

    private static void Reply(IConnection connection, Opcode opcode, ulong requestId, in KvReply reply)
    {
        reply.Write(connection.BeginPost(opcode | Opcode.ReplyBit, WireStatus.Ok, requestId, KvReply.Size));
        connection.EndPost();
    }

    private string Describe(StoreStatus status, in KvRequest request) => status switch
    {
        StoreStatus.NotFound => "key not found",
        StoreStatus.EmptyKey => "keys must have at least one byte",
        StoreStatus.KeyTooLong => $"key of {request.Key.Length} bytes exceeds the limit of {store.Options.MaxKeyLength}",
        StoreStatus.ValueTooLarge => $"value of {request.Value.Length} bytes exceeds the limit of {store.Options.EffectiveMaxValueLength}",
        StoreStatus.OutOfMemory => "the store is full: no free slot for an entry of this size and no empty slab to move to its size class; nothing changed (delete keys, or start the nodes with a larger --region-size)",
        _ => status.ToString(),
    };
}
