using System.Buffers.Binary;

namespace MirrorKv.Protocol;

/// <summary>Forward-only little-endian writer into a span sized by the message's Size; overruns throw.</summary>
public ref struct PayloadWriter(Span<byte> destination)
{
    private readonly Span<byte> _destination = destination;

    /// <summary>Bytes written so far.</summary>
    public int Written { get; private set; }

    /// <summary>Writes one byte.</summary>
    public void U8(byte value) => _destination[Written++] = value;

    /// <summary>Writes a u16.</summary>
    public void U16(ushort value)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(_destination[Written..], value);
        Written += 2;
    }

    /// <summary>Writes a u32.</summary>
    public void U32(uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_destination[Written..], value);
        Written += 4;
    }

    /// <summary>Writes a u64.</summary>
    public void U64(ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(_destination[Written..], value);
        Written += 8;
    }

    /// <summary>Copies raw bytes.</summary>
    public void Bytes(scoped ReadOnlySpan<byte> value)
    {
        value.CopyTo(_destination[Written..]);
        Written += value.Length;
    }
}
