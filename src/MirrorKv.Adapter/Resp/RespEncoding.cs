using System.Buffers.Text;

namespace MirrorKv.Adapter.Resp;

/// <summary>RESP2 and RESP3 reply encodings written into a span the caller sized with the <c>Max*</c> bounds.</summary>
internal static class RespEncoding
{
    /// <summary>Bytes a type byte, a 64-bit number and CRLF take at most.</summary>
    public const int MaxNumberLine = 1 + 20 + 2;

    public static int MaxBulk(int length) => MaxNumberLine + length + 2;

    public static int Line(Span<byte> destination, byte type, ReadOnlySpan<byte> text)
    {
        destination[0] = type;
        text.CopyTo(destination[1..]);
        destination[1 + text.Length] = (byte)'\r';
        destination[2 + text.Length] = (byte)'\n';
        return text.Length + 3;
    }

    public static int Number(Span<byte> destination, byte type, long value)
    {
        destination[0] = type;
        Utf8Formatter.TryFormat(value, destination[1..], out int written);
        destination[1 + written] = (byte)'\r';
        destination[2 + written] = (byte)'\n';
        return written + 3;
    }

    public static int Bulk(Span<byte> destination, ReadOnlySpan<byte> value) => Bulk(destination, (byte)'$', value);

    public static int Bulk(Span<byte> destination, byte type, ReadOnlySpan<byte> value)
    {
        int header = Number(destination, type, value.Length);
        value.CopyTo(destination[header..]);
        destination[header + value.Length] = (byte)'\r';
        destination[header + value.Length + 1] = (byte)'\n';
        return header + value.Length + 2;
    }
}
