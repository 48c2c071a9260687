using System.Text;
using CsCheck;
using MirrorKv.Fuzz;

namespace MirrorKv.Adapter.Tests.Resp;

/// <summary>
/// The RESP fuzz target in CI: its seeds, afl++'s saved inputs and crashes (fuzz/corpus-resp and
/// fuzz/regressions-resp), and CsCheck mutations of the seeds all parse with every invariant holding, whole
/// and cut in two anywhere.
/// </summary>
public class RespFuzzCorpusTests
{
    [Fact]
    public void Seeds_ParseAsTheirRequests()
    {
        foreach ((string name, byte[] stream) in RespSeeds.All())
        {
            long before = RespStreamTarget.ParsedRequests;
            RespStreamTarget.Run(stream);
            Assert.True(RespStreamTarget.ParsedRequests > before, $"seed {name} parsed no request");
        }
    }

    [Fact]
    public void SavedCorpusAndRegressions_ReplayWithoutFailure()
    {
        string root = RepositoryRoot();
        string[] files = [.. new[] { "fuzz/corpus-resp", "fuzz/regressions-resp" }
            .Select(d => Path.Combine(root, d))
            .Where(Directory.Exists)
            .SelectMany(d => Directory.EnumerateFiles(d, "*", SearchOption.AllDirectories))];
        Assert.NotEmpty(files);
        foreach (string file in files)
        {
            RespStreamTarget.Run(File.ReadAllBytes(file));
        }
    }

    [Fact]
    public void MutatedSeeds_KeepEveryInvariant()
    {
        byte[][] seeds = [.. RespSeeds.All().Select(s => s.Stream)];
        Gen<byte[]> seed = Gen.Int[0, seeds.Length - 1].Select(i => (byte[])seeds[i].Clone());
        Gen<byte[]> mutated = Gen.OneOf(
            Gen.Select(seed, Gen.Int[0, 4096].Array[1, 8], (s, bits) => { foreach (int b in bits) { s[b % s.Length] ^= (byte)(1 << (b % 8)); } return s; }),
            Gen.Select(seed, Gen.Int[0, 4096], Gen.Byte, (s, at, value) => { s[at % s.Length] = value; return s; }),
            Gen.Select(seed, Gen.Int[0, 4096], (s, cut) => s[..(cut % s.Length)]),
            Gen.Select(seed, Gen.Int[0, 4096], Gen.Int[-3, 100_000], (s, at, length) => Splice(s, at, length)),
            Gen.Select(seed, seed, Gen.Int[0, 4096], (a, b, cut) => (byte[])[.. a[..(cut % a.Length)], .. b]),
            Gen.Select(seed, seed, (a, b) => (byte[])[.. a, .. b]));
        mutated.Sample(stream => RespStreamTarget.Run(stream), iter: 50_000);
    }

    [Fact]
    public void AnInlineLineOverTheLimit_IsAProtocolError_WholeAndInPieces()
    {
        byte[] line = Encoding.ASCII.GetBytes(new string('a', 5000) + "\r\n");
        int[] table = new int[8];
        byte[]? decoded = null;
        Adapter.Resp.RespParseStatus status = Adapter.Resp.RespParser.TryParse(line, new Adapter.Resp.RespLimits(1 << 20, 1 << 16, 64, 4096), ref table, ref decoded, out _, out _, out _, out string? error, out _);
        Assert.Equal(Adapter.Resp.RespParseStatus.Error, status);
        Assert.NotNull(error);

        // The target cuts it somewhere and must find the same end both ways.
        RespStreamTarget.Run(line);
    }

    // Replaces a length line's number ("$5", "*3") at or after `at` with another, negative and huge included.
    private static byte[] Splice(byte[] stream, int at, int length)
    {
        int start = Array.FindIndex(stream, at % stream.Length, b => b is (byte)'$' or (byte)'*');
        if (start < 0)
        {
            return stream;
        }

        int end = Array.IndexOf(stream, (byte)'\r', start);
        if (end < 0)
        {
            return stream;
        }

        return [.. stream[..(start + 1)], .. Encoding.ASCII.GetBytes(length.ToString(System.Globalization.CultureInfo.InvariantCulture)), .. stream[end..]];
    }

    private static string RepositoryRoot()
    {
        DirectoryInfo? dir = new(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "MirrorKv.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new DirectoryNotFoundException("MirrorKv.slnx not found above the test output");
    }
}
