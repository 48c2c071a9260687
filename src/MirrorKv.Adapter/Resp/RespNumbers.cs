using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace MirrorKv.Adapter.Resp;

/// <summary>Integers as redis reads them: a plain decimal, no sign but '-', no leading zeros, no spaces, in 64 bits.</summary>
internal static class RespNumbers
{
    public const string NotAnInteger = "ERR value is not an integer or out of range";

    public const string NotAFloat = "ERR value is not a valid float";

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

    /// <summary>
    /// A finite decimal number as INCRBYFLOAT reads one: digits with an optional sign, point and exponent, no spaces,
    /// no "inf" or "nan" (redis refuses a non-finite operand too), at most 5,000 bytes.
    /// </summary>
    public static bool TryParseFloat(ReadOnlySpan<byte> text, out double value)
    {
        value = 0;
        if (text.IsEmpty || text.Length > 5_000)
        {
            return false;
        }

        foreach (byte b in text)
        {
            if (!(b is (>= (byte)'0' and <= (byte)'9') or (byte)'.' or (byte)'-' or (byte)'+' or (byte)'e' or (byte)'E'))
            {
                return false;
            }
        }

        return double.TryParse(Encoding.ASCII.GetString(text), NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out value)
            && double.IsFinite(value);
    }

    /// <summary>
    /// A number as INCRBYFLOAT stores it: the shortest decimal that reads back as the same double, never in exponent
    /// form (redis writes 5000, not 5E+03; 1E+20 as its 21 digits), no trailing zeros, -0 as 0.
    /// </summary>
    public static string FormatFloat(double value)
    {
        if (value == 0)
        {
            return "0";
        }

        string shortest = value.ToString("R", CultureInfo.InvariantCulture);
        int e = shortest.IndexOf('E');
        if (e < 0)
        {
            return shortest;
        }

        // Move the point of the shortest digits by the exponent, so that no digit is made up.
        bool negative = shortest[0] == '-';
        string mantissa = shortest[(negative ? 1 : 0)..e];
        int exponent = int.Parse(shortest.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        int point = mantissa.IndexOf('.');
        string digits = point < 0 ? mantissa : mantissa.Remove(point, 1);
        int integerDigits = (point < 0 ? mantissa.Length : point) + exponent;
        string text = integerDigits <= 0
            ? "0." + new string('0', -integerDigits) + digits
            : integerDigits >= digits.Length
                ? digits + new string('0', integerDigits - digits.Length)
                : digits[..integerDigits] + "." + digits[integerDigits..];
        return negative ? "-" + text : text;
    }

    public static long NowUnixMs() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
}
