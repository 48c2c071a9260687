using System.Buffers.Binary;
using MirrorKv.Memory;

namespace MirrorKv.Protocol;

/// <summary>
/// WRITE, UPDATE, DELETE and LOOKUP payload: epoch u64, key length u16, reserved u16 (0), value length u32,
/// pointer (rkey u32, length u32, address u64; all 0 when the client has none), key, value.
/// DELETE and LOOKUP carry no value; LOOKUP ignores the epoch.
/// </summary>
public readonly ref struct KvRequest(ulong epoch, RemotePointer pointer, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
{
    /// <summary>Bytes before the key.</summary>
    public const int FixedSize = 32;

    /// <summary>The epoch the sender believes in.</summary>
    public ulong Epoch { get; } = epoch;

    /// <summary>The client's cached pointer for the key: a WRITE or UPDATE works on that slot when it holds the key, else the node's index decides.</summary>
    public RemotePointer Pointer { get; } = pointer;

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
        w.U64(Epoch);
        w.U16((ushort)Key.Length);
        w.U16(0);
        w.U32((uint)Value.Length);
        ReadRequest.WritePointer(ref w, Pointer);
        w.Bytes(Key);
        w.Bytes(Value);
        return w.Written;
    }

    /// <summary>
    /// True when the payload's value length is not 0: malformed for DELETE and LOOKUP, which carry no value.
    /// A payload too short to hold the field is left to <see cref="TryRead"/> to refuse.
    /// </summary>
    public static bool CarriesValue(ReadOnlySpan<byte> payload) =>
        payload.Length >= ValueLengthOffset + 4 && BinaryPrimitives.ReadUInt32LittleEndian(payload[ValueLengthOffset..]) != 0;

    private const int ValueLengthOffset = 12;

    /// <summary>Decodes; the spans point into <paramref name="payload"/>.</summary>
    public static WireStatus TryRead(ReadOnlySpan<byte> payload, out KvRequest request)
    {
        var r = new PayloadReader(payload);
        ulong epoch = r.U64();
        int keyLength = r.U16();
        ushort reserved = r.U16();
        uint valueLength = r.U32();
        RemotePointer pointer = ReadRequest.ReadPointer(ref r);
        ReadOnlySpan<byte> key = r.Bytes(keyLength);
        ReadOnlySpan<byte> value = r.Bytes(valueLength);
        request = new KvRequest(epoch, pointer, key, value);
        return r.IsCompleteAndValid && reserved == 0 ? WireStatus.Ok : WireStatus.MalformedFrame;
    }
}
