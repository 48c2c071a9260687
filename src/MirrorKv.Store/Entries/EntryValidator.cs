using System.Buffers.Binary;

namespace MirrorKv.Store;

/// <summary>
/// Judges bytes that a one-sided reader copied out of a slot, with no help from the server. Accepts
/// only an even version, a live entry, the expected key, a matching checksum and a version not older
/// than the reader already knows; says why otherwise.
/// </summary>
public static class EntryValidator
{
    /// <summary>
    /// Parses a slot copy without knowing its key, as a joining secondary does with the slabs it copies:
    /// true for a whole entry (even version, sane lengths, matching checksum), live or tombstone.
    /// </summary>
    /// <param name="slotCopy">The slot's bytes.</param>
    /// <param name="version">The entry's version (for a pending entry, the version it will have once published).</param>
    /// <param name="flags">Live or tombstone.</param>
    /// <param name="keyLength">The key's length.</param>
    /// <param name="valueLength">The value's length.</param>
    /// <param name="acceptPending">
    /// The slot's owner, under its lock, where no entry is half written: an odd version is then an entry written and
    /// not yet published (see <see cref="EntryCodec.Publish"/>), whole, and is accepted. A copier must pass false.
    /// </param>
    public static bool TryParse(ReadOnlySpan<byte> slotCopy, out ulong version, out EntryFlags flags, out int keyLength, out int valueLength, bool acceptPending = false)
    {
        version = 0;
        flags = EntryFlags.None;
        keyLength = 0;
        valueLength = 0;
        if (slotCopy.Length < EntryLayout.HeaderSize)
        {
            return false;
        }

        version = BinaryPrimitives.ReadUInt64LittleEndian(slotCopy);
        if (acceptPending && (version & 1) != 0)
        {
            version++;
        }

        flags = (EntryFlags)slotCopy[EntryLayout.FlagsOffset];
        uint slotSize = BinaryPrimitives.ReadUInt32LittleEndian(slotCopy[EntryLayout.SlotSizeOffset..]);
        uint value = BinaryPrimitives.ReadUInt32LittleEndian(slotCopy[EntryLayout.ValueLengthOffset..]);
        keyLength = BinaryPrimitives.ReadUInt16LittleEndian(slotCopy[EntryLayout.KeyLengthOffset..]);
        ulong entrySize = EntryLayout.HeaderSize + (ulong)keyLength + value;
        if ((version & 1) != 0 || version == 0 || slotSize != (uint)slotCopy.Length || entrySize > slotSize || keyLength == 0
            || slotCopy[EntryLayout.ReservedOffset] != 0 || flags is not (EntryFlags.Live or EntryFlags.Tombstone))
        {
            return false;
        }

        valueLength = (int)value;
        return BinaryPrimitives.ReadUInt64LittleEndian(slotCopy[EntryLayout.ChecksumOffset..]) == EntryCodec.Checksum(slotCopy, version, (int)entrySize);
    }

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
