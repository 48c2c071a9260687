using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MirrorKv.Entries;

/// <summary>
/// Writes entries into slots under the seqlock protocol, and computes their checksum.
/// One writer per slot at a time (the store engine's lock guarantees it); readers copy concurrently.
/// </summary>
public static class EntryCodec
{
    /// <summary>
    /// Writes a whole entry: version - 1 (odd) first, then the body and checksum, then
    /// <paramref name="version"/> (even). A reader that copies the slot meanwhile sees an odd
    /// version or a checksum mismatch, whatever order its copy touches the bytes in.
    /// </summary>
    /// <param name="slot">The whole slot; its length is the slot size.</param>
    /// <param name="version">The new version: even, and greater than any version the slot held before.</param>
    /// <param name="key">The key, 1 to 65535 bytes.</param>
    /// <param name="value">The value; key and value must fit the slot.</param>
    /// <param name="flags"><see cref="EntryFlags.Live"/> or <see cref="EntryFlags.Tombstone"/>.</param>
    /// <param name="pending">
    /// Leave the version odd (<paramref name="version"/> - 1) with the body and checksum of <paramref name="version"/>
    /// in place: readers retry until <see cref="Publish"/> stores the even version. The slot's old entry is gone
    /// meanwhile, which is the point: no reader may see the old value once the secondary may hold the new one.
    /// </param>
    public static void Write(Span<byte> slot, ulong version, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, EntryFlags flags, bool pending = false)
    {
        int entrySize = EntryLayout.EntrySize(key.Length, value.Length);
        if ((version & 1) != 0 || version == 0 || key.Length is 0 or > EntryLayout.MaxKeyLength || entrySize > slot.Length)
        {
            ThrowBadWrite(slot.Length, version, key.Length, value.Length);
        }

        ref ulong versionField = ref Unsafe.As<byte, ulong>(ref MemoryMarshal.GetReference(slot));
        Volatile.Write(ref versionField, LittleEndian(version - 1));

        // The odd version must be visible before any body byte changes; a release store alone only
        // orders the stores before it.
        Interlocked.MemoryBarrier();

        BinaryPrimitives.WriteUInt32LittleEndian(slot[EntryLayout.SlotSizeOffset..], (uint)slot.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(slot[EntryLayout.ValueLengthOffset..], (uint)value.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(slot[EntryLayout.KeyLengthOffset..], (ushort)key.Length);
        slot[EntryLayout.FlagsOffset] = (byte)flags;
        slot[EntryLayout.ReservedOffset] = 0;
        key.CopyTo(slot[EntryLayout.HeaderSize..]);
        value.CopyTo(slot[(EntryLayout.HeaderSize + key.Length)..]);
        BinaryPrimitives.WriteUInt64LittleEndian(slot[EntryLayout.ChecksumOffset..], Checksum(slot, version, entrySize));

        // Release: every byte above is visible before the even version is.
        if (!pending)
        {
            Volatile.Write(ref versionField, LittleEndian(version));
        }
    }

    /// <summary>
    /// Publishes an entry written pending: stores <paramref name="version"/> if the slot still holds its pending
    /// form (<paramref name="version"/> - 1); false when a later write took the slot meanwhile (that write publishes
    /// its own). Only the slot's writer calls it (the store engine, under its lock).
    /// </summary>
    public static bool Publish(Span<byte> slot, ulong version)
    {
        ref ulong versionField = ref Unsafe.As<byte, ulong>(ref MemoryMarshal.GetReference(slot));
        if (LittleEndian(Volatile.Read(ref versionField)) != version - 1)
        {
            return false;
        }

        Volatile.Write(ref versionField, LittleEndian(version));
        return true;
    }

    /// <summary>
    /// Copies a whole entry that <see cref="EntryValidator.TryParse"/> accepted (a secondary applying a copied slot)
    /// into <paramref name="slot"/>. A slot that held an entry is written under the seqlock protocol, as
    /// <see cref="Write"/> does, so that a reader copying it meanwhile sees an odd version; a blank slot (never
    /// written) is plainly copied, since a reader that catches it half-copied fails the checksum either way and
    /// there is no older entry to protect.
    /// </summary>
    /// <param name="slot">The whole slot; at least as long as <paramref name="entry"/>.</param>
    /// <param name="entry">The entry's bytes: header, key and value, its even version first.</param>
    /// <param name="slotWasBlank">True when the slot's version is 0 (never written).</param>
    public static void CopyImage(Span<byte> slot, ReadOnlySpan<byte> entry, bool slotWasBlank)
    {
        if (slotWasBlank)
        {
            entry.CopyTo(slot);
            return;
        }

        ulong version = BinaryPrimitives.ReadUInt64LittleEndian(entry);
        ref ulong versionField = ref Unsafe.As<byte, ulong>(ref MemoryMarshal.GetReference(slot));
        Volatile.Write(ref versionField, LittleEndian(version - 1));
        Interlocked.MemoryBarrier();
        entry[sizeof(ulong)..].CopyTo(slot[sizeof(ulong)..]);
        Volatile.Write(ref versionField, LittleEndian(version));
    }

    /// <summary>Checksum of the entry of <paramref name="entrySize"/> bytes at the start of <paramref name="slot"/>.</summary>
    public static ulong Checksum(ReadOnlySpan<byte> slot, ulong version, int entrySize) =>
        XxHash3.HashToUInt64(slot[EntryLayout.ChecksumStart..entrySize], unchecked((long)version));

    /// <summary>The version field of a slot, read with acquire semantics.</summary>
    public static ulong ReadVersion(ReadOnlySpan<byte> slot) =>
        LittleEndian(Volatile.Read(ref Unsafe.As<byte, ulong>(ref MemoryMarshal.GetReference(slot))));

    /// <summary>The key stored in a slot (meaningful only for the slot's owner, under its lock).</summary>
    public static ReadOnlySpan<byte> KeyOf(ReadOnlySpan<byte> slot) =>
        slot.Slice(EntryLayout.HeaderSize, BinaryPrimitives.ReadUInt16LittleEndian(slot[EntryLayout.KeyLengthOffset..]));

    private static ulong LittleEndian(ulong v) => BitConverter.IsLittleEndian ? v : BinaryPrimitives.ReverseEndianness(v);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowBadWrite(int slotSize, ulong version, int keyLength, int valueLength) =>
        throw new ArgumentException($"Cannot write an entry (version {version}, key {keyLength} B, value {valueLength} B) into a slot of {slotSize} B: the version must be even and non-zero, the key 1 to {EntryLayout.MaxKeyLength} bytes, and the entry must fit the slot.");
}
