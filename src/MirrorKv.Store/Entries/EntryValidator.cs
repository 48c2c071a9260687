using System.Buffers.Binary;

namespace MirrorKv.Store;

/// <summary>
/// Judges bytes that a one-sided reader copied out of a slot, with no help from the server. Accepts
/// only an even version, a live entry, the expected key, a matching checksum and a version not older
/// than the reader already knows; says why otherwise.
/// </summary>
public static class EntryValidator
{
    /// <summary>Validates a slot copy against the key the reader asked for.</summary>
    /// <param name="slotCopy">The bytes read: the whole slot (the pointer's length is the slot size).</param>
    /// <param name="expectedKey">The key the reader is looking for.</param>
    /// <param name="minVersion">The newest version of this key the reader has seen acknowledged; 0 if none.</param>
    /// <param name="entry">Where the value is, when the result is <see cref="EntryStatus.Ok"/>.</param>
    public static EntryStatus Validate(ReadOnlySpan<byte> slotCopy, ReadOnlySpan<byte> expectedKey, ulong minVersion, out ValidatedEntry entry)
    {
        entry = default;
        if (slotCopy.Length < EntryLayout.HeaderSize)
        {
            return EntryStatus.Corrupt;
        }

        ulong version = BinaryPrimitives.ReadUInt64LittleEndian(slotCopy);
        if ((version & 1) != 0)
        {
            return EntryStatus.Torn;
        }

        var flags = (EntryFlags)slotCopy[EntryLayout.FlagsOffset];
        if (flags == EntryFlags.None && version == 0)
        {
            return EntryStatus.Deleted;
        }

        uint slotSize = BinaryPrimitives.ReadUInt32LittleEndian(slotCopy[EntryLayout.SlotSizeOffset..]);
        uint valueLength = BinaryPrimitives.ReadUInt32LittleEndian(slotCopy[EntryLayout.ValueLengthOffset..]);
        int keyLength = BinaryPrimitives.ReadUInt16LittleEndian(slotCopy[EntryLayout.KeyLengthOffset..]);

        // 64-bit sum: a hostile value length cannot wrap it.
        ulong entrySize = EntryLayout.HeaderSize + (ulong)keyLength + valueLength;
        if (slotSize != (uint)slotCopy.Length || entrySize > slotSize || keyLength == 0
            || slotCopy[EntryLayout.ReservedOffset] != 0 || flags is not (EntryFlags.Live or EntryFlags.Tombstone))
        {
            return EntryStatus.Corrupt;
        }

        ulong stored = BinaryPrimitives.ReadUInt64LittleEndian(slotCopy[EntryLayout.ChecksumOffset..]);
        if (stored != EntryCodec.Checksum(slotCopy, version, (int)entrySize))
        {
            return EntryStatus.Torn;
        }

        if (flags == EntryFlags.Tombstone)
        {
            return EntryStatus.Deleted;
        }

        if (!slotCopy.Slice(EntryLayout.HeaderSize, keyLength).SequenceEqual(expectedKey))
        {
            return EntryStatus.ForeignKey;
        }

        if (version < minVersion)
        {
            return EntryStatus.Stale;
        }

        entry = new ValidatedEntry(version, EntryLayout.HeaderSize + keyLength, (int)valueLength);
        return EntryStatus.Ok;
    }
}
