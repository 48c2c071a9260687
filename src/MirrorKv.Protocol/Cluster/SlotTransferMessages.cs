using System.Buffers.Binary;

namespace MirrorKv.Protocol;

/// <summary>
/// The payloads of a slot move (protocol 1.4; docs/protocol.md, "Moving slots"), all little-endian.
/// <list type="bullet">
/// <item>SLOT_EXPORT request (24 bytes): first slot u16, last slot u16, most payload bytes wanted u32, cursor u64 (0:
/// from the start), reserved u64 (0). Reply: next cursor u64 (0: the range is done), entry count u32, reserved u32
/// (0), then the entries.</item>
/// <item>SLOT_IMPORT request: first slot u16, last slot u16, entry count u32, reserved u64 (0), then the entries (every
/// key of a slot of the range). Reply (8 bytes): entries written u32, reserved u32 (0).</item>
/// <item>SLOT_RETIRE request (16 bytes): first slot u16, last slot u16, most entries to delete u32, cursor u64.
/// Reply (16 bytes): next cursor u64 (0: done), entries deleted u32, reserved u32 (0).</item>
/// </list>
/// An entry: key length u16, reserved u16 (0), value length u32, the key, the value (as stored: an expiring
/// value keeps its 16-byte expiry prefix).
/// </summary>
public static class SlotTransferMessages
{
    /// <summary>SLOT_EXPORT request size.</summary>
    public const int ExportRequestSize = 24;

    /// <summary>Bytes before the entries of a SLOT_EXPORT reply and of a SLOT_IMPORT request.</summary>
    public const int PageHeaderSize = 16;

    /// <summary>SLOT_IMPORT reply size.</summary>
    public const int ImportReplySize = 8;

    /// <summary>SLOT_RETIRE request and reply size.</summary>
    public const int RetireSize = 16;

    /// <summary>Bytes of an entry before its key.</summary>
    public const int EntryHeaderSize = 8;

    /// <summary>Bytes <paramref name="keyLength"/> and <paramref name="valueLength"/> take in a page.</summary>
    public static int EntrySize(int keyLength, int valueLength) => EntryHeaderSize + keyLength + valueLength;

    /// <summary>Encodes a SLOT_EXPORT request.</summary>
    public static int WriteExportRequest(Span<byte> destination, int first, int last, uint maxBytes, ulong cursor)
    {
        var w = new PayloadWriter(destination);
        w.U16((ushort)first);
        w.U16((ushort)last);
        w.U32(maxBytes);
        w.U64(cursor);
        w.U64(0);
        return w.Written;
    }

    /// <summary>Decodes a SLOT_EXPORT request: exactly its size, a valid range, the reserved field 0.</summary>
    public static WireStatus TryReadExportRequest(ReadOnlySpan<byte> payload, out int first, out int last, out uint maxBytes, out ulong cursor)
    {
        var r = new PayloadReader(payload);
        first = r.U16();
        last = r.U16();
        maxBytes = r.U32();
        cursor = r.U64();
        return r.U64() == 0 && r.IsCompleteAndValid && ValidRange(first, last) ? WireStatus.Ok : WireStatus.MalformedFrame;
    }

    /// <summary>Encodes a SLOT_EXPORT reply's header; the entries follow it.</summary>
    public static void WriteExportHeader(Span<byte> destination, ulong nextCursor, int count)
    {
        var w = new PayloadWriter(destination);
        w.U64(nextCursor);
        w.U32((uint)count);
        w.U32(0);
    }

    /// <summary>Decodes a SLOT_EXPORT reply's header; <paramref name="entries"/> is what follows it.</summary>
    public static WireStatus TryReadExportReply(ReadOnlySpan<byte> payload, out ulong nextCursor, out int count, out ReadOnlySpan<byte> entries)
    {
        var r = new PayloadReader(payload);
        nextCursor = r.U64();
        uint n = r.U32();
        bool ok = r.U32() == 0 && !r.Failed && n <= int.MaxValue;
        count = (int)n;
        entries = ok ? payload[PageHeaderSize..] : default;
        return ok && CountEntries(entries) == count ? WireStatus.Ok : WireStatus.MalformedFrame;
    }

    /// <summary>Encodes a SLOT_IMPORT request's header; the entries follow it.</summary>
    public static void WriteImportHeader(Span<byte> destination, int first, int last, int count)
    {
        var w = new PayloadWriter(destination);
        w.U16((ushort)first);
        w.U16((ushort)last);
        w.U32((uint)count);
        w.U64(0);
    }

    /// <summary>Decodes a SLOT_IMPORT request: the header, then exactly <paramref name="count"/> well-formed entries.</summary>
    public static WireStatus TryReadImportRequest(ReadOnlySpan<byte> payload, out int first, out int last, out int count, out ReadOnlySpan<byte> entries)
    {
        var r = new PayloadReader(payload);
        first = r.U16();
        last = r.U16();
        uint n = r.U32();
        bool ok = r.U64() == 0 && !r.Failed && ValidRange(first, last) && n <= int.MaxValue;
        count = (int)n;
        entries = ok ? payload[PageHeaderSize..] : default;
        return ok && CountEntries(entries) == count ? WireStatus.Ok : WireStatus.MalformedFrame;
    }

    /// <summary>Encodes a SLOT_IMPORT reply.</summary>
    public static void WriteImportReply(Span<byte> destination, int written)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)written);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], 0);
    }

    /// <summary>Decodes a SLOT_IMPORT reply.</summary>
    public static WireStatus TryReadImportReply(ReadOnlySpan<byte> payload, out int written)
    {
        var r = new PayloadReader(payload);
        written = (int)Math.Min(r.U32(), int.MaxValue);
        return r.U32() == 0 && r.IsCompleteAndValid ? WireStatus.Ok : WireStatus.MalformedFrame;
    }

    /// <summary>Encodes a SLOT_RETIRE request.</summary>
    public static int WriteRetireRequest(Span<byte> destination, int first, int last, uint maxEntries, ulong cursor)
    {
        var w = new PayloadWriter(destination);
        w.U16((ushort)first);
        w.U16((ushort)last);
        w.U32(maxEntries);
        w.U64(cursor);
        return w.Written;
    }

    /// <summary>Decodes a SLOT_RETIRE request.</summary>
    public static WireStatus TryReadRetireRequest(ReadOnlySpan<byte> payload, out int first, out int last, out uint maxEntries, out ulong cursor)
    {
        var r = new PayloadReader(payload);
        first = r.U16();
        last = r.U16();
        maxEntries = r.U32();
        cursor = r.U64();
        return r.IsCompleteAndValid && ValidRange(first, last) ? WireStatus.Ok : WireStatus.MalformedFrame;
    }

    /// <summary>Encodes a SLOT_RETIRE reply.</summary>
    public static void WriteRetireReply(Span<byte> destination, ulong nextCursor, int deleted)
    {
        var w = new PayloadWriter(destination);
        w.U64(nextCursor);
        w.U32((uint)deleted);
        w.U32(0);
    }

    /// <summary>Decodes a SLOT_RETIRE reply.</summary>
    public static WireStatus TryReadRetireReply(ReadOnlySpan<byte> payload, out ulong nextCursor, out int deleted)
    {
        var r = new PayloadReader(payload);
        nextCursor = r.U64();
        deleted = (int)Math.Min(r.U32(), int.MaxValue);
        return r.U32() == 0 && r.IsCompleteAndValid ? WireStatus.Ok : WireStatus.MalformedFrame;
    }

    /// <summary>Writes one entry at the start of <paramref name="destination"/>; returns the bytes written.</summary>
    public static int WriteEntry(Span<byte> destination, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(destination, (ushort)key.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[2..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], (uint)value.Length);
        key.CopyTo(destination[EntryHeaderSize..]);
        value.CopyTo(destination[(EntryHeaderSize + key.Length)..]);
        return EntrySize(key.Length, value.Length);
    }

    /// <summary>
    /// Takes the next entry off <paramref name="entries"/>; false at the end or when the rest is not a whole
    /// entry (check with <see cref="CountEntries"/> first).
    /// </summary>
    public static bool TryTakeEntry(ref ReadOnlySpan<byte> entries, out ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value)
    {
        key = value = default;
        if (entries.Length < EntryHeaderSize)
        {
            return false;
        }

        int keyLength = BinaryPrimitives.ReadUInt16LittleEndian(entries);
        uint valueLength = BinaryPrimitives.ReadUInt32LittleEndian(entries[4..]);
        if (BinaryPrimitives.ReadUInt16LittleEndian(entries[2..]) != 0 || keyLength == 0 || EntryHeaderSize + keyLength > entries.Length || valueLength > (uint)(entries.Length - EntryHeaderSize - keyLength))
        {
            return false;
        }

        key = entries.Slice(EntryHeaderSize, keyLength);
        value = entries.Slice(EntryHeaderSize + keyLength, (int)valueLength);
        entries = entries[(EntryHeaderSize + keyLength + (int)valueLength)..];
        return true;
    }

    /// <summary>How many whole entries <paramref name="entries"/> holds, or -1 when anything is left over or malformed.</summary>
    public static int CountEntries(ReadOnlySpan<byte> entries)
    {
        int count = 0;
        while (!entries.IsEmpty)
        {
            if (!TryTakeEntry(ref entries, out _, out _))
            {
                return -1;
            }

            count++;
        }

        return count;
    }

    private static bool ValidRange(int first, int last) => first <= last && last < HashSlot.Count;
}
