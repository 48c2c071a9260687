namespace MirrorKv.Entries;

/// <summary>
/// Byte layout of an entry in a slot. All fields are little-endian, because clients copy slots
/// verbatim with one-sided reads and parse them on their own machines.
/// </summary>
/// <remarks>
/// <code>
/// offset size field
///      0    8 version      seqlock; odd while the entry is being written; grows store-wide
///      8    8 checksum     XxHash3-64 of bytes [16, 28 + key + value), seeded with the version
///     16    4 slot size    bytes in the slot (a size class); equals the pointer's length
///     20    4 value length
///     24    2 key length   1 .. 65535
///     26    1 flags        EntryFlags
///     27    1 reserved     0
///     28    k key
///   28+k    v value
/// </code>
/// The checksum is seeded with the version and covers every other header field, so a copy that mixes
/// two writes, or a header from one write with a body from another, fails it.
/// </remarks>
public static class EntryLayout
{
    /// <summary>Offset of the 64-bit seqlock version.</summary>
    public const int VersionOffset = 0;

    /// <summary>Offset of the 64-bit checksum.</summary>
    public const int ChecksumOffset = 8;

    /// <summary>Offset of the 32-bit slot size.</summary>
    public const int SlotSizeOffset = 16;

    /// <summary>Offset of the 32-bit value length.</summary>
    public const int ValueLengthOffset = 20;

    /// <summary>Offset of the 16-bit key length.</summary>
    public const int KeyLengthOffset = 24;

    /// <summary>Offset of the 8-bit flags.</summary>
    public const int FlagsOffset = 26;

    /// <summary>Offset of the reserved byte (always 0).</summary>
    public const int ReservedOffset = 27;

    /// <summary>Bytes before the key.</summary>
    public const int HeaderSize = 28;

    /// <summary>Where the checksummed bytes start (everything after the checksum field).</summary>
    public const int ChecksumStart = SlotSizeOffset;

    /// <summary>Largest key the 16-bit length field can describe.</summary>
    public const int MaxKeyLength = ushort.MaxValue;

    /// <summary>Bytes an entry with these lengths needs.</summary>
    public static int EntrySize(int keyLength, int valueLength) => HeaderSize + keyLength + valueLength;
}
