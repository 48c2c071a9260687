using System.Buffers.Text;

namespace MirrorKv.Adapter.Resp;

/// <summary>
/// Finds one request at the start of a receive buffer: a RESP array of bulk strings (what every client sends),
/// or an inline command (a line of words, as typed into telnet). An array's arguments are recorded as offsets into
/// the buffer, nothing copied or allocated; an inline command's are decoded (quotes, escapes) into a line the caller
/// keeps. Every length is checked against <see cref="RespLimits"/> before anything
/// waits for the bytes it announces, and the parser never looks past the buffer it was given.
/// </summary>
internal static class RespParser
{
    /// <summary>
    /// Parses the request at the start of <paramref name="data"/>. Complete: <paramref name="consumed"/> bytes
    /// make it up and its <paramref name="count"/> arguments are in <paramref name="table"/> (grown as needed).
    /// Incomplete: <paramref name="needed"/> is the length the request is known to need (0: unknown). Error:
    /// <paramref name="error"/> says why, for "-ERR Protocol error: ...". An array's arguments are offsets into
    /// <paramref name="data"/>; an inline command's are decoded as redis splits them (double quotes with <c>\n</c>,
    /// <c>\xHH</c> and the other escapes, single quotes with <c>\'</c>) into <paramref name="line"/> (grown as needed,
    /// kept by the caller for the next), and then <paramref name="decoded"/> is true and the offsets are into it. The
    /// receive buffer is never written, so a request parsed again (its turn yielded) parses the same.
    /// </summary>
    public static RespParseStatus TryParse(ReadOnlySpan<byte> data, in RespLimits limits, ref int[] table, ref byte[]? line, out int count, out int consumed, out int needed, out string? error, out bool decoded)
    {
        count = 0;
        consumed = 0;
        needed = 0;
        error = null;
        decoded = false;
        if (data.IsEmpty)
        {
            return RespParseStatus.Incomplete;
        }

        byte first = data[0];
        if (first == (byte)'*')
        {
            return ParseArray(data, limits, ref table, out count, out consumed, out needed, out error);
        }

        if (IsInlineStart(first))
        {
            decoded = true;
            return ParseInline(data, limits, ref table, ref line, out count, out consumed, out error);
        }

        error = $"expected '*' (an array of bulk strings) or an inline command, got {Describe(first)}";
        return RespParseStatus.Error;
    }

    // Inline commands start with a letter (a command's name) or are blank lines, which are skipped.
    private static bool IsInlineStart(byte b) => (uint)((b | 0x20) - 'a') <= 'z' - 'a' || b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n';

    private static RespParseStatus ParseArray(ReadOnlySpan<byte> data, in RespLimits limits, ref int[] table, out int count, out int consumed, out int needed, out string? error)
    {
        count = 0;
        consumed = 0;
        needed = 0;
        error = null;
        RespParseStatus status = ReadLength(data, 1, out long declared, out int position, "invalid array length", ref error);
        if (status != RespParseStatus.Complete)
        {
            return status;
        }

        if (declared <= 0)
        {
            // "*0" and "*-1": an empty request, which asks for nothing and gets no reply.
            consumed = position;
            return RespParseStatus.Complete;
        }

        if (declared > limits.MaxArguments)
        {
            error = $"too many arguments ({declared}; at most {limits.MaxArguments})";
            return RespParseStatus.Error;
        }

        int arguments = (int)declared;
        for (int i = 0; i < arguments; i++)
        {
            if (position >= data.Length)
            {
                return Incomplete(data, limits, 0, out needed, ref error);
            }

            if (data[position] != (byte)'$')
            {
                error = $"expected '$' (a bulk string) for argument {i + 1}, got {Describe(data[position])}";
                return RespParseStatus.Error;
            }

            status = ReadLength(data, position + 1, out long length, out int start, "invalid bulk length", ref error);
            if (status == RespParseStatus.Incomplete)
            {
                return Incomplete(data, limits, 0, out needed, ref error);
            }

            if (status == RespParseStatus.Error)
            {
                return status;
            }

            if (length < 0 || length > limits.MaxBulkLength)
            {
                error = length < 0 ? "invalid bulk length" : $"bulk length {length} exceeds the largest value this node takes ({limits.MaxBulkLength} bytes)";
                return RespParseStatus.Error;
            }

            long end = start + length + 2;
            if (end > limits.MaxRequestBytes)
            {
                error = $"request larger than {limits.MaxRequestBytes} bytes";
                return RespParseStatus.Error;
            }

            if (end > data.Length)
            {
                return Incomplete(data, limits, (int)end, out needed, ref error);
            }

            if (data[(int)end - 2] != (byte)'\r' || data[(int)end - 1] != (byte)'\n')
            {
                error = $"bulk string of argument {i + 1} is not followed by CRLF";
                return RespParseStatus.Error;
            }

            Record(ref table, i, start, (int)length, limits);
            position = (int)end;
        }

        count = arguments;
        consumed = position;
        return RespParseStatus.Complete;
    }

    // "<digits>\r\n" from offset: the number and where the next byte is. A negative number only as "-1" style
    // digits after a single minus; anything else in the line is an error, and so is a line that has gone on
    // longer than any valid length line without ending.
    private static RespParseStatus ReadLength(ReadOnlySpan<byte> data, int offset, out long value, out int next, string what, ref string? error)
    {
        value = 0;
        next = 0;
        ReadOnlySpan<byte> rest = data[offset..];
        int lineEnd = rest[..Math.Min(rest.Length, RespLimits.MaxLengthLine)].IndexOf((byte)'\r');
        if (lineEnd < 0)
        {
            if (rest.Length >= RespLimits.MaxLengthLine)
            {
                error = what;
                return RespParseStatus.Error;
            }

            return RespParseStatus.Incomplete;
        }

        if (lineEnd + 1 >= rest.Length)
        {
            return RespParseStatus.Incomplete;
        }

        ReadOnlySpan<byte> digits = rest[..lineEnd];
        if (rest[lineEnd + 1] != (byte)'\n' || digits.IsEmpty || digits[0] == (byte)'+'
            || !Utf8Parser.TryParse(digits, out value, out int used) || used != digits.Length)
        {
            error = what;
            return RespParseStatus.Error;
        }

        next = offset + lineEnd + 2;
        return RespParseStatus.Complete;
    }

    private static RespParseStatus Incomplete(ReadOnlySpan<byte> data, in RespLimits limits, int known, out int needed, ref string? error)
    {
        // What is buffered already reaches the limit, and the request goes on: it can only end past it.
        if (data.Length >= limits.MaxRequestBytes)
        {
            needed = 0;
            error = $"request larger than {limits.MaxRequestBytes} bytes";
            return RespParseStatus.Error;
        }

        needed = known;
        return RespParseStatus.Incomplete;
    }

    // A line of words as redis splits it (sdssplitargs): blanks separate arguments; a double-quoted part takes the escapes
    // \n \r \t \b \a \xHH and \<any> (that character), a single-quoted part \' only; a quote may start inside a word, and
    // a closing quote must end it. The decoded arguments go to `line`, never longer than the line itself.
    private static RespParseStatus ParseInline(ReadOnlySpan<byte> data, in RespLimits limits, ref int[] table, ref byte[]? line, out int count, out int consumed, out string? error)
    {
        count = 0;
        consumed = 0;
        error = null;
        int window = Math.Min(data.Length, limits.MaxInlineLength);
        int newline = data[..window].IndexOf((byte)'\n');
        if (newline < 0)
        {
            if (data.Length >= limits.MaxInlineLength)
            {
                error = $"inline command longer than {limits.MaxInlineLength} bytes";
                return RespParseStatus.Error;
            }

            return RespParseStatus.Incomplete;
        }

        int lineEnd = newline > 0 && data[newline - 1] == (byte)'\r' ? newline - 1 : newline;
        ReadOnlySpan<byte> text = data[..lineEnd];
        if (line is null || line.Length < lineEnd)
        {
            line = new byte[Math.Max(lineEnd, 64)];
        }

        Span<byte> output = line;
        int position = 0;
        int written = 0;
        while (true)
        {
            while (position < text.Length && IsBlank(text[position]))
            {
                position++;
            }

            if (position >= text.Length)
            {
                break;
            }

            int start = written;
            byte quote = 0;
            while (true)
            {
                if (quote == 0)
                {
                    if (position >= text.Length || IsBlank(text[position]))
                    {
                        break;
                    }

                    byte c = text[position++];
                    if (c is (byte)'"' or (byte)'\'')
                    {
                        quote = c;
                    }
                    else
                    {
                        output[written++] = c;
                    }

                    continue;
                }

                if (position >= text.Length)
                {
                    error = "unbalanced quotes in request";
                    return RespParseStatus.Error;
                }

                byte b = text[position];
                if (b == quote)
                {
                    // The closing quote ends the argument: it must be followed by a blank or the line's end.
                    position++;
                    if (position < text.Length && !IsBlank(text[position]))
                    {
                        error = "unbalanced quotes in request";
                        return RespParseStatus.Error;
                    }

                    break;
                }

                if (b == (byte)'\\' && position + 1 < text.Length)
                {
                    byte next = text[position + 1];
                    if (quote == (byte)'\'')
                    {
                        // In single quotes only \' is an escape; any other backslash is itself.
                        output[written++] = next == (byte)'\'' ? next : b;
                        position += next == (byte)'\'' ? 2 : 1;
                    }
                    else if (next == (byte)'x' && position + 3 < text.Length && HexValue(text[position + 2]) is >= 0 and var high && HexValue(text[position + 3]) is >= 0 and var low)
                    {
                        output[written++] = (byte)((high << 4) | low);
                        position += 4;
                    }
                    else
                    {
                        output[written++] = next switch
                        {
                            (byte)'n' => (byte)'\n',
                            (byte)'r' => (byte)'\r',
                            (byte)'t' => (byte)'\t',
                            (byte)'b' => (byte)'\b',
                            (byte)'a' => (byte)'\a',
                            _ => next,
                        };
                        position += 2;
                    }

                    continue;
                }

                output[written++] = b;
                position++;
            }

            if (count == limits.MaxArguments)
            {
                error = $"too many arguments (more than {limits.MaxArguments})";
                return RespParseStatus.Error;
            }

            Record(ref table, count++, start, written - start, limits);
        }

        consumed = newline + 1;
        return RespParseStatus.Complete;
    }

    // The blanks redis's isspace() knows, but the line's own end.
    private static bool IsBlank(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\v' or (byte)'\f';

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };

    private static void Record(ref int[] table, int index, int start, int length, in RespLimits limits)
    {
        if (table.Length < (2 * index) + 2)
        {
            Array.Resize(ref table, Math.Min(Math.Max(table.Length * 2, 16), 2 * limits.MaxArguments));
        }

        table[2 * index] = start;
        table[(2 * index) + 1] = length;
    }

    private static string Describe(byte b) => b is >= 0x21 and < 0x7f ? $"'{(char)b}'" : $"byte 0x{b:x2}";
}
