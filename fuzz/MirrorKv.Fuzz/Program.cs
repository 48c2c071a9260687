using System.Globalization;
using System.Net;
using MirrorKv.Fuzz;
using MirrorKv.Memory;
using MirrorKv.Protocol;

// MirrorKv.Fuzz: afl++ drives it through SharpFuzz (no arguments: the native frame decoder; `resp`: the RESP
// parser); `replay <dir>` / `replay-resp <dir>` run every file of a folder through a target (a crash corpus,
// afl's queue); `seed <dir>` / `seed-resp <dir>` write the starting corpus.
switch (args)
{
    case []:
        SharpFuzz.Fuzzer.OutOfProcess.Run(stream => FrameStreamTarget.Run(ReadAll(stream)));
        return 0;
    case ["resp"]:
        SharpFuzz.Fuzzer.OutOfProcess.Run(stream => RespStreamTarget.Run(ReadAll(stream)));
        return 0;
    case ["replay", string dir]:
        return Replay(dir, bytes => FrameStreamTarget.Run(bytes), () => $"{FrameStreamTarget.DecodedFrames} frames decoded");
    case ["replay-resp", string dir]:
        return Replay(dir, bytes => RespStreamTarget.Run(bytes), () => $"{RespStreamTarget.ParsedRequests} requests parsed");
    case ["seed", string dir]:
        return Seed(dir, SeedFrames.All());
    case ["seed-resp", string dir]:
        return Seed(dir, RespSeeds.All());
    default:
        Console.Error.WriteLine("usage: MirrorKv.Fuzz [resp | replay <dir> | replay-resp <dir> | seed <dir> | seed-resp <dir>]");
        return 2;
}

static byte[] ReadAll(Stream stream)
{
    using var buffer = new MemoryStream();
    stream.CopyTo(buffer);
    return buffer.ToArray();
}

static int Replay(string dir, Action<byte[]> target, Func<string> summary)
{
    int files = 0, failures = 0;
    foreach (string file in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
    {
        files++;
        try
        {
            target(File.ReadAllBytes(file));
        }
        catch (InvalidOperationException e)
        {
            failures++;
            Console.Error.WriteLine($"{file}: {e.Message}");
        }
    }

    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"replayed {files} inputs, {summary()}, {failures} failures"));
    return failures == 0 ? 0 : 1;
}

static int Seed(string dir, IEnumerable<(string Name, byte[] Bytes)> seeds)
{
    Directory.CreateDirectory(dir);
    int count = 0;
    foreach ((string name, byte[] bytes) in seeds)
    {
        File.WriteAllBytes(Path.Combine(dir, name), bytes);
        count++;
    }

    Console.WriteLine($"wrote {count} seeds to {dir}");
    return 0;
}
