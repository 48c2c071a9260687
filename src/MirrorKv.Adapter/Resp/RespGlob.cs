namespace MirrorKv.Adapter.Resp;

/// <summary>
/// Glob patterns as SCAN's MATCH and CONFIG GET take them: <c>*</c> any run of bytes, <c>?</c> one byte,
/// <c>[abc]</c>, <c>[a-z]</c> and <c>[^a]</c> classes, <c>\</c> to take the next byte literally. Matching
/// backtracks only to the last <c>*</c>, so it costs at most pattern × text steps, whatever the pattern.
/// </summary>
internal static class RespGlob
{
    public static bool IsMatch(ReadOnlySpan<byte> pattern, ReadOnlySpan<byte> text, bool ignoreCase = false)
    {
        int p = 0;
        int t = 0;
        int starP = -1;
        int starT = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && pattern[p] == (byte)'*')
            {
                starP = ++p;
                starT = t;
                continue;
            }

            if (p < pattern.Length && MatchOne(pattern, ref p, text[t], ignoreCase))
            {
                t++;
                continue;
            }

            if (starP < 0)
            {
                return false;
            }

            // Let the last star take one more byte, and try the rest of the pattern from there.
            p = starP;
            t = ++starT;
        }

        while (p < pattern.Length && pattern[p] == (byte)'*')
        {
            p++;
        }

        return p == pattern.Length;
    }

    // Matches one pattern element at p against c; on a match, p moves past the element.
    private static bool MatchOne(ReadOnlySpan<byte> pattern, ref int p, byte c, bool ignoreCase)
    {
        byte element = pattern[p];
        if (element == (byte)'?')
        {
            p++;
            return true;
        }

        if (element == (byte)'[')
        {
            return MatchClass(pattern, ref p, c, ignoreCase);
        }

        if (element == (byte)'\\' && p + 1 < pattern.Length)
        {
            element = pattern[p + 1];
            if (Same(element, c, ignoreCase))
            {
                p += 2;
                return true;
            }

            return false;
        }

        if (Same(element, c, ignoreCase))
        {
            p++;
            return true;
        }

        return false;
    }

    private static bool MatchClass(ReadOnlySpan<byte> pattern, ref int p, byte c, bool ignoreCase)
    {
        int i = p + 1;
        bool negate = i < pattern.Length && pattern[i] == (byte)'^';
        if (negate)
        {
            i++;
        }

        bool matched = false;
        while (i < pattern.Length && pattern[i] != (byte)']')
        {
            if (pattern[i] == (byte)'\\' && i + 1 < pattern.Length)
            {
                matched |= Same(pattern[i + 1], c, ignoreCase);
                i += 2;
            }
            else if (i + 2 < pattern.Length && pattern[i + 1] == (byte)'-' && pattern[i + 2] != (byte)']')
            {
                byte low = Math.Min(pattern[i], pattern[i + 2]);
                byte high = Math.Max(pattern[i], pattern[i + 2]);
                matched |= (c >= low && c <= high) || (ignoreCase && Lower(c) >= Lower(low) && Lower(c) <= Lower(high));
                i += 3;
            }
            else
            {
                matched |= Same(pattern[i], c, ignoreCase);
                i++;
            }
        }

        // An unterminated class runs to the pattern's end, as redis reads it.
        if (matched != negate)
        {
            p = i < pattern.Length ? i + 1 : i;
            return true;
        }

        return false;
    }

    private static bool Same(byte a, byte b, bool ignoreCase) => a == b || (ignoreCase && Lower(a) == Lower(b));

    private static byte Lower(byte b) => b is >= (byte)'A' and <= (byte)'Z' ? (byte)(b | 0x20) : b;
}
