namespace MirrorKv.Cli.Bench;

/// <summary>
/// Picks the key of each operation: uniform over the key set, or zipfian (YCSB's default, constant 0.99:
/// a few keys take most operations) with the ranks scattered over the key space, so that the hot keys are
/// not neighbours in slabs. The zipfian draw follows Gray et al., "Quickly generating billion-record
/// synthetic databases" (SIGMOD 1994): one uniform number, no table.
/// </summary>
internal sealed class KeyChooser
{
    private const double Theta = 0.99;
    private readonly int _keys;
    private readonly bool _zipfian;
    private readonly double _zetaN;
    private readonly double _alpha;
    private readonly double _eta;
    private readonly double _half;
    private readonly long _stride;

    public KeyChooser(int keys, string distribution)
    {
        _keys = keys;
        _stride = CoprimeStride(keys);
        _zipfian = distribution switch
        {
            "uniform" => false,
            "zipfian" => true,
            _ => throw new ArgumentException($"unknown distribution '{distribution}': uniform or zipfian"),
        };
        if (_zipfian)
        {
            _zetaN = Zeta(keys);
            _alpha = 1 / (1 - Theta);
            _eta = (1 - Math.Pow(2.0 / keys, 1 - Theta)) / (1 - (Zeta(2) / _zetaN));
            _half = 1 + Math.Pow(0.5, Theta);
        }
    }

    public static readonly string[] Distributions = ["uniform", "zipfian"];

    public int Next(Random random)
    {
        if (!_zipfian)
        {
            return random.Next(_keys);
        }

        double u = random.NextDouble();
        double uz = u * _zetaN;
        long rank = uz < 1 ? 0 : uz < _half ? 1 : (long)(_keys * Math.Pow((_eta * u) - _eta + 1, _alpha));
        return Scatter(Math.Min(rank, _keys - 1));
    }

    /// <summary>
    /// The share of draws that fall on the <paramref name="top"/> most popular of <paramref name="keys"/> under
    /// zipfian 0.99: the hit ratio of a cache that held exactly those keys (what no policy can beat, short of
    /// knowing the future).
    /// </summary>
    public static double TopShare(int top, int keys) => Zeta(Math.Min(top, keys)) / Zeta(keys);

    private static double Zeta(long n)
    {
        double sum = 0;
        for (long i = 1; i <= n; i++)
        {
            sum += 1 / Math.Pow(i, Theta);
        }

        return sum;
    }

    // Scatters ranks over the key space with an affine permutation (a stride coprime with the key count,
    // near the golden ratio of it): neighbouring ranks land far apart, and every key keeps exactly one rank.
    private int Scatter(long rank) => (int)((rank * _stride) % _keys);

    private static long CoprimeStride(int keys)
    {
        long stride = Math.Max(1, (long)(keys * 0.6180339887));
        while (System.Numerics.BigInteger.GreatestCommonDivisor(stride, keys) != 1)
        {
            stride++;
        }

        return stride;
    }
}
