using System.Buffers.Text;

namespace MirrorKv.Adapter.Resp;

/// <summary>Integers as redis reads them: a plain decimal, no sign but '-', no leading zeros, no spaces, in 64 bits.</summary>
internal static class RespNumbers
{
    public const string NotAnInteger = "ERR value is not an integer or out of range";

    public static bool TryParse(ReadOnlySpan<byte> text, out long value)
    {
        value = 0;
        if (text.IsEmpty || text.Length > 20)
        {
            return false;
        }

        ReadOnlySpan<byte> digits = text[0] == (byte)'-' ? text[1..] : text;
        if (digits.IsEmpty || (digits[0] == (byte)'0' && (digits.Length > 1 || text.Length > 1)))
        {
            // "0" only: not "007", not "-0".
            return false;
        }

        foreach (byte b in digits)
        {
            if ((uint)(b - '0') > 9)
            {
                return false;
            }
        }

        return Utf8Parser.TryParse(text, out value, out int used) && used == text.Length;
    }

    /// <summary>True when <paramref name="text"/> equals the ASCII word <paramref name="upper"/>, ignoring case.</summary>
    public static bool Is(ReadOnlySpan<byte> text, ReadOnlySpan<byte> upper)
    {
        if (text.Length != upper.Length)
        {
            return false;
        }

        for (int i = 0; i < text.Length; i++)
        {
            byte b = text[i];
            if ((b is >= (byte)'a' and <= (byte)'z' ? (byte)(b - 32) : b) != upper[i])
            {
                return false;
            }
        }

        return true;
    }

    public static long NowUnixMs() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
}
