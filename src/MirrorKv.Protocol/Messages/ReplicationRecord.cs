using MirrorKv.Memory;

namespace MirrorKv.Protocol;

/// <summary>
/// One record of a REPLICATE batch (40 bytes + key + value): lsn u64, version u64, slot pointer on the
/// primary (rkey u32, length u32, address u64), flags u8 (1 live, 2 tombstone, 4 slab released, 8 region),
/// reserved u8 (0), key length u16, value length u32, key, value.
/// </summary>
/// <remarks>
/// A slab release names no slot: its pointer is the whole slab on the primary (base address, slab size), its
/// version, key and value are empty. It tells the secondary that the primary scrubbed that slab and gave it
/// back to its pool, so the secondary does the same with its mirror of it (slab rebalancing). A region record
/// names no slot either: its pointer is a chunk the primary just registered (rkey, length, base address), before
/// any record lands in it, so the secondary registers a chunk of its own to mirror it.
/// </remarks>
public readonly ref struct ReplicationRecord(ulong lsn, ulong version, RemotePointer slot, byte flags, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
{
    /// <summary>Bytes before the key.</summary>
    public const int FixedSize = 40;

    /// <summary>Flags of a live slot image (the entry's own flags).</summary>
    public const byte LiveFlag = 1;

    /// <summary>Flags of a tombstone slot image.</summary>
    public const byte TombstoneFlag = 2;

    /// <summary>Flags of a slab release: the pointer is a whole slab, and version, key and value are empty.</summary>
    public const byte SlabReleasedFlag = 4;

    /// <summary>Flags of a region record: the pointer is a whole new region, and version, key and value are empty.</summary>
    public const byte RegionFlag = 8;

    /// <summary>True for a slab release record.</summary>
    public bool IsSlabRelease => Flags == SlabReleasedFlag;

    /// <summary>True for a region record.</summary>
    public bool IsRegion => Flags == RegionFlag;

    /// <summary>True when version, key and value are empty, as a slab release or region record must have them.</summary>
    public bool IsBare => Version == 0 && Key.IsEmpty && Value.IsEmpty;

    /// <summary>Log sequence number: consecutive, starting at 1 for each primary incarnation's stream.</summary>
    public ulong Lsn { get; } = lsn;

    /// <summary>The entry's version.</summary>
    public ulong Version { get; } = version;

    /// <summary>The slot on the primary (address and slot size).</summary>
    public RemotePointer Slot { get; } = slot;

    /// <summary>1 live, 2 tombstone, 4 slab released, 8 region.</summary>
    public byte Flags { get; } = flags;

    /// <summary>The key.</summary>
    public ReadOnlySpan<byte> Key { get; } = key;

    /// <summary>The value.</summary>
    public ReadOnlySpan<byte> Value { get; } = value;

    /// <summary>Encoded size.</summary>
    public int Size => FixedSize + Key.Length + Value.Length;

    /// <summary>Encodes into <paramref name="destination"/>.</summary>
    public int Write(Span<byte> destination)
    {
        var w = new PayloadWriter(destination);
        w.U64(Lsn);
        w.U64(Version);
        ReadRequest.WritePointer(ref w, Slot);
        w.U8(Flags);
        w.U8(0);
        w.U16((ushort)Key.Length);
        w.U32((uint)Value.Length);
        w.Bytes(Key);
        w.Bytes(Value);
        return w.Written;
    }

    /// <summary>Decodes the record at the reader's position; the spans point into the payload.</summary>
    public static WireStatus TryRead(ref PayloadReader r, out ReplicationRecord record)
    {
        ulong lsn = r.U64();
        ulong version = r.U64();
        RemotePointer slot = ReadRequest.ReadPointer(ref r);
        byte flags = r.U8();
        byte reserved = r.U8();
        int keyLength = r.U16();
        uint valueLength = r.U32();
        ReadOnlySpan<byte> key = r.Bytes(keyLength);
        ReadOnlySpan<byte> value = r.Bytes(valueLength);
        record = new ReplicationRecord(lsn, version, slot, flags, key, value);
        return !r.Failed && reserved == 0 ? WireStatus.Ok : WireStatus.MalformedFrame;
    }
}
