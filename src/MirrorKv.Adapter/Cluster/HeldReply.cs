using MirrorKv.Protocol;
using MirrorKv.Transport;

namespace MirrorKv.Adapter;

/// <summary>
/// A reply of a slot move (SLOT_IMPORT, SLOT_RETIRE) held until the secondary has applied the records the request
/// produced: the mover learns that the target's secondary holds the imported entries, or the source's its deletes.
/// </summary>
internal sealed class HeldReply(IConnection connection, Opcode opcode, ulong requestId, byte[] payload) : IAckListener
{
    public IConnection Connection => connection;

    public void OnAcked(ulong ackedLsn) => Post(connection, opcode, requestId, payload);

    public void OnFailed(string message)
    {
        Replies.Error(connection, opcode, requestId, WireStatus.ReplicationFailed, message);
        connection.Flush();
    }

    public static void Post(IConnection connection, Opcode opcode, ulong requestId, ReadOnlySpan<byte> payload)
    {
        payload.CopyTo(connection.BeginPost(opcode | Opcode.ReplyBit, WireStatus.Ok, requestId, payload.Length));
        connection.EndPost();
    }
}
