using System.Buffers.Binary;

namespace MirrorKv.Protocol;

/// <summary>
/// Forward-only little-endian reader over a payload that never throws: a read past the end sets
/// <see cref="Failed"/> and returns zeros, so a decoder checks once at the end.
/// </summary>
public ref struct PayloadReader(ReadOnlySpan<byte> payload)
{
    private readonly ReadOnlySpan<byte> _payload = payload;
    private int _position;

    /// <summary>True once any read ran past the end.</summary>
    public bool Failed { get; private set; }

    /// <summary>Bytes not read yet.</summary>
    public readonly int Remaining => _payload.Length - _position;

    /// <summary>True when every byte was read and no read failed.</summary>
    public readonly bool IsCompleteAndValid => !Failed && _position == _payload.Length;

    /// <summary>Reads one byte.</summary>
    public byte U8() => Take(1) is { IsEmpty: false } s ? s[0] : (byte)0;

    /// <summary>Reads a u16.</summary>
    public ushort U16() => Take(2) is { IsEmpty: false } s ? BinaryPrimitives.ReadUInt16LittleEndian(s) : (ushort)0;

    /// <summary>Reads a u32.</summary>
    public uint U32() => Take(4) is { IsEmpty: false } s ? BinaryPrimitives.ReadUInt32LittleEndian(s) : 0;

    /// <summary>Reads a u64.</summary>
    public ulong U64() => Take(8) is { IsEmpty: false } s ? BinaryPrimitives.ReadUInt64LittleEndian(s) : 0;

    /// <summary>Reads <paramref name="length"/> raw bytes (empty and failed if fewer remain).</summary>
    public ReadOnlySpan<byte> Bytes(long length)
    {
        if (length < 0 || length > Remaining)
        {
            Failed = true;
            _position = _payload.Length;
            return default;
        }

        ReadOnlySpan<byte> s = _payload.Slice(_position, (int)length);
        _position += (int)length;
        return s;
    }

    private ReadOnlySpan<byte> Take(int length)
    {
        ReadOnlySpan<byte> s = Bytes(length);
        return Failed ? default : s;
    }
}
