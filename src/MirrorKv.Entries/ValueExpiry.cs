using System.Buffers.Binary;

namespace MirrorKv.Entries;

/// <summary>
/// The optional prefix of a value that expires: magic u32 "MKX1", reserved u32 (0), expires-at i64 (Unix
/// milliseconds), little-endian. The entry format stays as it is, so one-sided readers validate expiring
/// entries like any other and check the time themselves; the store engine only uses the prefix to reclaim the
/// slots of entries whose time has passed (its expiry reaper).
/// </summary>
public static class ValueExpiry
{
    /// <summary>Bytes of the prefix.</summary>
    public const int Size = 16;

    /// <summary>"MKX1" read as a little-endian u32.</summary>
    public const uint Magic = 0x31584B4D;

    /// <summary>Writes the prefix into the first <see cref="Size"/> bytes of <paramref name="destination"/>.</summary>
    public static void Write(Span<byte> destination, long expiresAtUnixMs)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], 0);
        BinaryPrimitives.WriteInt64LittleEndian(destination[8..], expiresAtUnixMs);
    }

    /// <summary>True when <paramref name="value"/> starts with the prefix; gives its time.</summary>
    public static bool TryRead(ReadOnlySpan<byte> value, out long expiresAtUnixMs)
    {
        expiresAtUnixMs = 0;
        if (value.Length < Size || BinaryPrimitives.ReadUInt32LittleEndian(value) != Magic || BinaryPrimitives.ReadUInt32LittleEndian(value[4..]) != 0)
        {
            return false;
        }

        expiresAtUnixMs = BinaryPrimitives.ReadInt64LittleEndian(value[8..]);
        return true;
    }
}
