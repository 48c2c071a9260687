namespace MirrorKv.Protocol;

/// <summary>
/// READ_LEASE (protocol 1.5), secondary to primary on the peer link, and its reply: the same 16 bytes both ways,
/// epoch u64 (the secondary's), stamp u64 (a reading of the secondary's own monotonic clock, opaque to the primary
/// and echoed unchanged). A reply with status Ok says that when the primary read the request it was primary at that
/// epoch and counted this link's secondary as recorded in sync in etcd: the secondary may then serve reads until the
/// stamp plus its read lease (docs/failover.md, "Publish after replication").
/// </summary>
public static class ReadLeaseMessages
{
    /// <summary>Request and reply size.</summary>
    public const int Size = 16;

    /// <summary>Encodes a request or an Ok reply.</summary>
    public static int Write(Span<byte> destination, ulong epoch, ulong stamp)
    {
        var w = new PayloadWriter(destination);
        w.U64(epoch);
        w.U64(stamp);
        return w.Written;
    }

    /// <summary>Decodes a request or an Ok reply: exactly <see cref="Size"/> bytes.</summary>
    public static WireStatus TryRead(ReadOnlySpan<byte> payload, out ulong epoch, out ulong stamp)
    {
        var r = new PayloadReader(payload);
        epoch = r.U64();
        stamp = r.U64();
        return r.IsCompleteAndValid ? WireStatus.Ok : WireStatus.MalformedFrame;
    }
}
