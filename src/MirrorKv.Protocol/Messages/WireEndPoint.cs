using System.Net;
using System.Net.Sockets;

namespace MirrorKv.Protocol;

/// <summary>
/// An IP endpoint in 20 bytes: port u16, family u16 (0 none, 4 IPv4, 6 IPv6), 16 address bytes
/// (IPv4 in the first four, the rest 0).
/// </summary>
public static class WireEndPoint
{
    /// <summary>Encoded size.</summary>
    public const int Size = 20;

    /// <summary>Writes an endpoint, or the "none" encoding for null.</summary>
    public static void Write(ref PayloadWriter writer, IPEndPoint? endPoint)
    {
        Span<byte> address = stackalloc byte[16];
        address.Clear();
        ushort family = 0;
        if (endPoint is not null)
        {
            family = endPoint.AddressFamily == AddressFamily.InterNetworkV6 ? (ushort)6 : (ushort)4;
            endPoint.Address.TryWriteBytes(address, out _);
        }

        writer.U16((ushort)(endPoint?.Port ?? 0));
        writer.U16(family);
        writer.Bytes(address);
    }

    /// <summary>Reads an endpoint; null for "none"; sets the reader failed for an unknown family.</summary>
    public static IPEndPoint? Read(ref PayloadReader reader)
    {
        ushort port = reader.U16();
        ushort family = reader.U16();
        ReadOnlySpan<byte> address = reader.Bytes(16);
        if (reader.Failed)
        {
            // Truncated: the caller sees the reader failed; an IPAddress of too few bytes would throw.
            return null;
        }

        return family switch
        {
            4 => new IPEndPoint(new IPAddress(address[..4]), port),
            6 => new IPEndPoint(new IPAddress(address), port),
            0 => null,
            _ => FailWith(ref reader),
        };
    }

    private static IPEndPoint? FailWith(ref PayloadReader reader)
    {
        reader.Bytes(-1);
        return null;
    }
}
