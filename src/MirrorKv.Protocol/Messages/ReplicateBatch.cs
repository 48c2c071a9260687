namespace MirrorKv.Protocol;

/// <summary>
/// REPLICATE payload: epoch u64, record count u32, reserved u32 (0), then the records in LSN order.
/// REPLICATE_ACK payload (16 bytes): applied LSN u64 (cumulative), epoch u64.
/// </summary>
public static class ReplicateBatch
{
    /// <summary>Bytes before the first record.</summary>
    public const int HeaderSize = 16;

    /// <summary>REPLICATE_ACK payload size.</summary>
    public const int AckSize = 16;

    /// <summary>Writes the batch header.</summary>
    public static void WriteHeader(Span<byte> destination, ulong epoch, uint count)
    {
        var w = new PayloadWriter(destination);
        w.U64(epoch);
        w.U32(count);
        w.U32(0);
    }

    /// <summary>Reads the batch header and leaves <paramref name="reader"/> at the first record.</summary>
    public static WireStatus TryReadHeader(ref PayloadReader reader, out ulong epoch, out uint count)
    {
        epoch = reader.U64();
        count = reader.U32();
        uint reserved = reader.U32();
        return !reader.Failed && reserved == 0 ? WireStatus.Ok : WireStatus.MalformedFrame;
    }

    /// <summary>Writes an ack.</summary>
    public static int WriteAck(Span<byte> destination, ulong appliedLsn, ulong epoch)
    {
        var w = new PayloadWriter(destination);
        w.U64(appliedLsn);
        w.U64(epoch);
        return w.Written;
    }

    /// <summary>Reads an ack.</summary>
    public static WireStatus TryReadAck(ReadOnlySpan<byte> payload, out ulong appliedLsn, out ulong epoch)
    {
        var r = new PayloadReader(payload);
        appliedLsn = r.U64();
        epoch = r.U64();
        return r.IsCompleteAndValid ? WireStatus.Ok : WireStatus.MalformedFrame;
    }
}
