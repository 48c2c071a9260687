using System.Globalization;
using System.Text;

namespace MirrorKv.Benchmarks.Micro;

/// <summary>Keys and values shaped like the figures in docs/benchmarks.md: 16-byte keys, 100-byte values.</summary>
internal static class BenchData
{
    public const int KeyLength = 16;

    public static byte[] Key(int i) => Encoding.ASCII.GetBytes("key:" + i.ToString("D12", CultureInfo.InvariantCulture));

    public static byte[] Value(int length, int seed)
    {
        var value = new byte[length];
        new Random(seed).NextBytes(value);
        return value;
    }
}
