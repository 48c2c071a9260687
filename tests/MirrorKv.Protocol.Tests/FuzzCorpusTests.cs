using CsCheck;
using MirrorKv.Fuzz;

namespace MirrorKv.Protocol.Tests;

/// <summary>
/// The fuzz harness's target in CI: the seeds, afl++'s saved inputs and crashes (fuzz/corpus and
/// fuzz/regressions), and CsCheck mutations of the seeds all decode without an exception and survive
/// the round trip.
/// </summary>
public class FuzzCorpusTests
{
    [Fact]
    public void Seeds_DecodeAndRoundTrip_OneFrameEach()
    {
        foreach ((string name, byte[] frame) in SeedFrames.All())
        {
            long before = FrameStreamTarget.DecodedFrames;
            FrameStreamTarget.Run(frame);
            Assert.True(FrameStreamTarget.DecodedFrames == before + 1, $"seed {name} was not decoded as one frame");
        }
    }

    [Fact]
    public void SavedCorpusAndRegressions_ReplayWithoutFailure()
    {
        string root = RepositoryRoot();
        string[] files = [.. new[] { "fuzz/corpus", "fuzz/regressions" }
            .Select(d => Path.Combine(root, d))
            .Where(Directory.Exists)
            .SelectMany(d => Directory.EnumerateFiles(d, "*", SearchOption.AllDirectories))];
        Assert.NotEmpty(files);
        foreach (string file in files)
        {
            FrameStreamTarget.Run(File.ReadAllBytes(file));
        }
    }

    [Fact]
    public void MutatedSeeds_NeverThrow()
    {
        byte[][] seeds = [.. SeedFrames.All().Select(s => s.Frame)];
        Gen<byte[]> seed = Gen.Int[0, seeds.Length - 1].Select(i => (byte[])seeds[i].Clone());
        Gen<byte[]> mutated = Gen.OneOf(
            Gen.Select(seed, Gen.Int[0, 4096].Array[1, 8], (s, bits) => { foreach (int b in bits) { s[b % s.Length] ^= (byte)(1 << (b % 8)); } return s; }),
            Gen.Select(seed, Gen.Int[0, 4096], Gen.Byte, (s, at, value) => { s[at % s.Length] = value; return s; }),
            Gen.Select(seed, Gen.Int[0, 4096], (s, cut) => s[..(cut % s.Length)]),
            Gen.Select(seed, Gen.UInt, (s, length) => { BitConverter.TryWriteBytes(s, length % 4096); return s; }),
            Gen.Select(seed, seed, Gen.Int[0, 4096], (a, b, cut) => (byte[])[.. a[..(cut % a.Length)], .. b]),
            Gen.Select(seed, seed, (a, b) => (byte[])[.. a, .. b]));
        mutated.Sample(frame => FrameStreamTarget.Run(frame), iter: 100_000);
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
