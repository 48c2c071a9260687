using System.Text;

namespace MirrorKv.Protocol;

/// <summary>
/// The payload of a reply whose status is not Ok, and of ERROR frames: UTF-8 text saying what failed,
/// at most <see cref="ProtocolLimits.MaxErrorMessageBytes"/> bytes (longer text is cut).
/// </summary>
public static class ErrorText
{
    /// <summary>Bytes <paramref name="message"/> takes on the wire.</summary>
    public static int Size(string message) => Math.Min(Encoding.UTF8.GetByteCount(message), ProtocolLimits.MaxErrorMessageBytes);

    /// <summary>Encodes (cut to the limit, possibly mid-character; readers replace what is broken).</summary>
    public static int Write(Span<byte> destination, string message)
    {
        int size = Size(message);
        byte[] bytes = Encoding.UTF8.GetBytes(message);
        bytes.AsSpan(0, size).CopyTo(destination);
        return size;
    }

    /// <summary>Decodes.</summary>
    public static string Read(ReadOnlySpan<byte> payload) =>
        Encoding.UTF8.GetString(payload[..Math.Min(payload.Length, ProtocolLimits.MaxErrorMessageBytes)]);
}
