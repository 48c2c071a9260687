using System.Buffers.Binary;
using MirrorKv.Store;

namespace MirrorKv.Adapter.Resp;

/// <summary>
/// SCAN's and FLUSHDB's visitor: copies the keys it accepts (live, matching the pattern) into the session's
/// <see cref="RespSession.Copy"/> buffer, each behind its 4-byte length, until it has <c>want</c> of them or
/// <see cref="MaxBytes"/> bytes. With <c>acceptNothing</c> (SCAN ... TYPE of a type no value has) it only walks.
/// </summary>
internal ref struct KeyCollector(RespSession session, ReadOnlySpan<byte> pattern, bool matchAll, bool includeExpired, int want, long now, bool acceptNothing = false) : IEntryVisitor
{
    /// <summary>Bytes of keys one call collects at most: bounds the buffer whatever COUNT says.</summary>
    public const int MaxBytes = 1 << 20;

    private readonly ReadOnlySpan<byte> _pattern = pattern;

    public int Found { get; private set; }

    public int Bytes { get; private set; }

    public bool Visit(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        if (!acceptNothing && (includeExpired || !StoredValue.Decode(value).IsExpired(now)) && (matchAll || RespGlob.IsMatch(_pattern, key)))
        {
            int needed = Bytes + 4 + key.Length;
            Span<byte> room = session.CopyRoom(needed, keep: Bytes);
            BinaryPrimitives.WriteInt32LittleEndian(room[Bytes..], key.Length);
            key.CopyTo(room[(Bytes + 4)..]);
            Bytes = needed;
            Found++;
        }

        return Found < want && Bytes < MaxBytes;
    }

    /// <summary>The <paramref name="offset"/>'th key's bytes from the buffer; moves the offset past it.</summary>
    public static ReadOnlySpan<byte> Next(byte[] buffer, ref int offset)
    {
        int length = BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(offset));
        ReadOnlySpan<byte> key = buffer.AsSpan(offset + 4, length);
        offset += 4 + length;
        return key;
    }
}
