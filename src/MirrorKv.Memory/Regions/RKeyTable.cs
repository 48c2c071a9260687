namespace MirrorKv.Memory;

/// <summary>
/// An immutable map from rkey to a value, for the lookups on the one-sided read path: open addressing over a
/// power-of-two array at most half full, so a lookup is a multiply, a shift and one or two probes, with no lock
/// and no allocation. A node has up to a few hundred regions (its chunks); a linear scan of them per READ would
/// cost more than the READ's own check.
/// </summary>
/// <remarks>Built once per registration (rare) and published whole; readers never see it change.</remarks>
internal sealed class RKeyTable<T>
    where T : class
{
    private readonly uint[] _keys;
    private readonly T?[] _values;
    private readonly int _shift;

    private RKeyTable(int bits)
    {
        _keys = new uint[1 << bits];
        _values = new T?[1 << bits];
        _shift = 32 - bits;
    }

    /// <summary>The table with no entry.</summary>
    public static RKeyTable<T> Empty { get; } = new(1);

    /// <summary>Builds a table of <paramref name="entries"/>; rkeys must be distinct and never 0.</summary>
    public static RKeyTable<T> Build(ReadOnlySpan<(uint RKey, T Value)> entries)
    {
        int bits = 1;
        while ((1 << bits) < entries.Length * 2)
        {
            bits++;
        }

        var table = new RKeyTable<T>(bits);
        int mask = table._keys.Length - 1;
        foreach ((uint rkey, T value) in entries)
        {
            int i = table.Home(rkey);
            while (table._keys[i] != 0)
            {
                i = (i + 1) & mask;
            }

            table._keys[i] = rkey;
            table._values[i] = value;
        }

        return table;
    }

    /// <summary>The value of <paramref name="rkey"/>, or null (rkey 0 is never found).</summary>
    public T? Find(uint rkey)
    {
        uint[] keys = _keys;
        int mask = keys.Length - 1;
        for (int i = Home(rkey); ; i = (i + 1) & mask)
        {
            uint key = keys[i];
            if (key == rkey)
            {
                return rkey == 0 ? null : _values[i];
            }

            if (key == 0)
            {
                return null;
            }
        }
    }

    // Fibonacci hashing: rkeys are random, but a test may choose them, and the multiply spreads any pattern.
    private int Home(uint rkey) => (int)((rkey * 0x9E3779B1u) >> _shift);
}
