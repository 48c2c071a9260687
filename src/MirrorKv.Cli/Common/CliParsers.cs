using System.Globalization;
using System.Net;

namespace MirrorKv.Cli;

/// <summary>Parsing of the CLI's endpoint and size arguments, with messages that say what was expected.</summary>
internal static class CliParsers
{
    /// <summary>"host:port" where host is an IP address or "localhost".</summary>
    public static bool TryParseEndPoint(string text, out IPEndPoint? endPoint, out string? error)
    {
        endPoint = null;
        error = null;
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port > 65535)
        {
            error = $"'{text}' is not host:port (for example 127.0.0.1:7400)";
            return false;
        }

        string host = text[..colon].Trim('[', ']');
        IPAddress? address = host.Equals("localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback : IPAddress.TryParse(host, out IPAddress? a) ? a : null;
        if (address is null)
        {
            error = $"'{host}' is not an IP address or localhost";
            return false;
        }

        endPoint = new IPEndPoint(address, port);
        return true;
    }

    /// <summary>
    /// A byte count with an optional k, m or g suffix (powers of 1024), also written kb, mb, gb (as redis writes
    /// maxmemory, where they mean the same powers) or kib, mib, gib.
    /// </summary>
    public static bool TryParseSize(string text, out ulong bytes, out string? error)
    {
        bytes = 0;
        error = null;
        string t = text.Trim().ToLowerInvariant();
        ulong unit = 1;
        foreach ((string suffix, ulong size) in SizeSuffixes)
        {
            if (t.Length > suffix.Length && t.EndsWith(suffix, StringComparison.Ordinal))
            {
                unit = size;
                t = t[..^suffix.Length];
                break;
            }
        }

        if (!ulong.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out ulong n) || n > ulong.MaxValue / unit)
        {
            error = $"'{text}' is not a size (a number of bytes, optionally with k, m or g, or kb, mb, gb: 256m, 1gb)";
            return false;
        }

        bytes = n * unit;
        return true;
    }

    // Longest first, so that "kib" is not read as a number ending in "b".
    private static readonly (string Suffix, ulong Size)[] SizeSuffixes =
    [
        ("kib", 1UL << 10), ("mib", 1UL << 20), ("gib", 1UL << 30),
        ("kb", 1UL << 10), ("mb", 1UL << 20), ("gb", 1UL << 30),
        ("k", 1UL << 10), ("m", 1UL << 20), ("g", 1UL << 30),
    ];

    /// <summary>A positive duration: a number of seconds, or a number with ms, s, m, h or d.</summary>
    public static bool TryParseDuration(string text, out TimeSpan duration, out string? error)
    {
        duration = default;
        error = null;
        string t = text.Trim().ToLowerInvariant();
        (string number, double unitMs) = t.EndsWith("ms", StringComparison.Ordinal) ? (t[..^2], 1d)
            : t.Length > 0 && t[^1] is 's' or 'm' or 'h' or 'd' ? (t[..^1], t[^1] switch { 's' => 1_000d, 'm' => 60_000d, 'h' => 3_600_000d, _ => 86_400_000d })
            : (t, 1_000d);
        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double n) || n * unitMs < 1 || n * unitMs > TimeSpan.FromDays(3650).TotalMilliseconds)
        {
            error = $"'{text}' is not a duration from 1 ms to 10 years (30, 1500ms, 30s, 10m, 2h, 1d)";
            return false;
        }

        duration = TimeSpan.FromMilliseconds(n * unitMs);
        return true;
    }
}
