using MirrorKv.Memory;
using MirrorKv.Protocol;
using MirrorKv.Store;
using MirrorKv.Transport;

namespace MirrorKv.Adapter;

/// <summary>Error replies and the mapping of lower layers' statuses to wire statuses.</summary>
internal static class Replies
{
    public static void Error(IConnection connection, Opcode opcode, ulong requestId, WireStatus status, string message)
    {
        Span<byte> payload = connection.BeginPost(opcode | Opcode.ReplyBit, status, requestId, ErrorText.Size(message));
        try
        {
            ErrorText.Write(payload, message);
        }
        finally
        {
            connection.EndPost();
        }
    }

    /// <summary>A GET's reply: the addressing data, then the value.</summary>
    public static void Value(IConnection connection, ulong requestId, in KvReply reply, ReadOnlySpan<byte> value)
    {
        Span<byte> payload = connection.BeginPost(Opcode.Get | Opcode.ReplyBit, WireStatus.Ok, requestId, KvReply.Size + value.Length);
        try
        {
            reply.Write(payload);
            value.CopyTo(payload[KvReply.Size..]);
        }
        finally
        {
            connection.EndPost();
        }
    }

    public static WireStatus ToWire(AccessStatus status) => (WireStatus)(byte)status;

    public static WireStatus ToWire(StoreStatus status) => status switch
    {
        StoreStatus.Ok => WireStatus.Ok,
        StoreStatus.NotFound => WireStatus.NotFound,
        StoreStatus.EmptyKey => WireStatus.EmptyKey,
        StoreStatus.KeyTooLong => WireStatus.KeyTooLong,
        StoreStatus.ValueTooLarge => WireStatus.ValueTooLarge,
        StoreStatus.OutOfMemory => WireStatus.OutOfMemory,
        StoreStatus.ReadOnlySecondary => WireStatus.NotPrimary,
        _ => WireStatus.MalformedFrame,
    };
}
