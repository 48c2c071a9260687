using System.Buffers.Binary;

namespace MirrorKv.Entries;

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
    /// <param name="version">The entry's version.</param>
    /// <param name="flags">Live or tombstone.</param>
    /// <param name="keyLength">The key's length.</param>
    /// <param name="valueLength">The value's length.</param>
    public static bool TryParse(ReadOnlySpan<byte> slotCopy, out ulong version, out EntryFlags flags, out int keyLength, out int valueLength)
    {
        if (!TryParseHeader(slotCopy, out version, out flags, out keyLength, out valueLength) || (version & 1) != 0)
        {
            return false;
        }

        int entrySize = EntryLayout.HeaderSize + keyLength + valueLength;
        return BinaryPrimitives.ReadUInt64LittleEndian(slotCopy[EntryLayout.ChecksumOffset..]) == EntryCodec.Checksum(slotCopy, version, entrySize);
    }

    /// <summary>
    /// Parses a slot its owner reads under its lock, where no entry is half written: the header's checks of
    /// <see cref="TryParse"/> without the checksum, which only a copy made without the lock needs (hashing a
    /// 1 MiB value on every write by pointer, or every slot a sweep passes, cost more than the write itself).
    /// An entry written and not yet published (odd version, see <see cref="EntryCodec.Publish"/>) is whole
    /// there and is accepted, with <paramref name="pending"/> set and <paramref name="version"/> the one it
    /// will have once published.
    /// </summary>
    /// <param name="slot">The slot's bytes.</param>
    /// <param name="version">The entry's version (for a pending entry, the version it will have once published).</param>
    /// <param name="pending">True for an entry written and not yet published.</param>
    /// <param name="flags">Live or tombstone.</param>
    /// <param name="keyLength">The key's length.</param>
    /// <param name="valueLength">The value's length.</param>
    public static bool TryParseOwned(ReadOnlySpan<byte> slot, out ulong version, out bool pending, out EntryFlags flags, out int keyLength, out int valueLength)
    {
        bool parsed = TryParseHeader(slot, out version, out flags, out keyLength, out valueLength);
        pending = (version & 1) != 0;
        if (pending)
        {
            version++;
        }

        return parsed;
    }

    // The checks both parses share; a version of either parity passes (the callers decide what an odd one means).
    private static bool TryParseHeader(ReadOnlySpan<byte> slot, out ulong version, out EntryFlags flags, out int keyLength, out int valueLength)
    {
        version = 0;
        flags = EntryFlags.None;
        keyLength = 0;
        valueLength = 0;
        if (slot.Length < EntryLayout.HeaderSize)
        {
            return false;
        }

        version = BinaryPrimitives.ReadUInt64LittleEndian(slot);
        flags = (EntryFlags)slot[EntryLayout.FlagsOffset];
        uint slotSize = BinaryPrimitives.ReadUInt32LittleEndian(slot[EntryLayout.SlotSizeOffset..]);
        uint value = BinaryPrimitives.ReadUInt32LittleEndian(slot[EntryLayout.ValueLengthOffset..]);
        keyLength = BinaryPrimitives.ReadUInt16LittleEndian(slot[EntryLayout.KeyLengthOffset..]);
        ulong entrySize = EntryLayout.HeaderSize + (ulong)keyLength + value;
        if (version is 0 or ulong.MaxValue || slotSize != (uint)slot.Length || entrySize > slotSize || keyLength == 0
            || slot[EntryLayout.ReservedOffset] != 0 || flags is not (EntryFlags.Live or EntryFlags.Tombstone))
        {
            return false;
        }

        valueLength = (int)value;
        return true;
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
