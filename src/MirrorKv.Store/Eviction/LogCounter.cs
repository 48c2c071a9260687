using System.Runtime.CompilerServices;

namespace MirrorKv.Store;

/// <summary>
/// The logarithmic read counter of <see cref="EvictionPolicy.AllKeysLfu"/>, one byte per slot (redis's LFU
/// counter, same constants): a read raises a counter <c>c</c> above <see cref="Initial"/> with probability
/// <c>1 / ((c - Initial) * LogFactor + 1)</c>, so 255 stands for about a million reads and a byte tells a key
/// read ten times from one read ten thousand times.
/// </summary>
/// <remarks>
/// Why probabilistic: a plain count would saturate a byte after 255 reads, and a wider one would cost the
/// table its one-byte-per-slot shape. The random draw is a thread-local xorshift: no lock, no shared line, no
/// allocation; a hot key's counter climbs ever more slowly, so its cache line is written ever more rarely.
/// </remarks>
internal static class LogCounter
{
    /// <summary>
    /// The counter of a key just written: a few reads' worth, so that a new key is not the first victim before
    /// it had a chance to be read (redis's LFU_INIT_VAL), while keys whose counters decayed below it go first.
    /// </summary>
    public const byte Initial = 5;

    /// <summary>How much harder each step gets (redis's lfu-log-factor default): 10 reads for 6, ~1M for 255.</summary>
    public const int LogFactor = 10;

    // Thresholds[c]: the draw (a uniform uint) below which counter c goes up; uint.MaxValue means always
    // (at or below Initial), 0 never (saturated).
    private static readonly uint[] Thresholds = BuildThresholds();

    [ThreadStatic]
    private static uint t_state;

    /// <summary>Whether a read of a slot whose counter is <paramref name="counter"/> raises it by one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool ShouldIncrement(byte counter)
    {
        uint threshold = Thresholds[counter];
        return threshold == uint.MaxValue || (threshold != 0 && NextDraw() < threshold);
    }

    /// <summary>A uniform draw from this thread's xorshift32 (seeded from the thread id; never 0, its fixed point).</summary>
    public static uint NextDraw()
    {
        uint x = t_state;
        if (x == 0)
        {
            x = ((uint)Environment.CurrentManagedThreadId * 0x9E3779B9u) | 1;
        }

        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        t_state = x;
        return x;
    }

    private static uint[] BuildThresholds()
    {
        var thresholds = new uint[256];
        for (int c = 0; c < 256; c++)
        {
            thresholds[c] = c <= Initial ? uint.MaxValue : c == byte.MaxValue ? 0 : (uint)(4294967296.0 / (((c - Initial) * LogFactor) + 1));
        }

        return thresholds;
    }
}
