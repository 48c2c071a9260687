using System.Globalization;
using System.Net;
using MirrorKv.Fuzz;
using MirrorKv.Memory;
using MirrorKv.Protocol;

// MirrorKv.Fuzz: afl++ drives it through SharpFuzz (no arguments); `replay <dir>` runs every file of a
// folder through the target (a crash corpus, afl's queue); `seed <dir>` writes one valid frame stream
// per message type, the starting corpus.
switch (args)
{
    case []:
        SharpFuzz.Fuzzer.OutOfProcess.Run(stream =>
        {
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            FrameStreamTarget.Run(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
        });
        return 0;
    case ["replay", string dir]:
        int files = 0, failures = 0;
        foreach (string file in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            files++;
            try
            {
                FrameStreamTarget.Run(File.ReadAllBytes(file));
            }
            catch (InvalidOperationException e)
            {
                failures++;
                Console.Error.WriteLine($"{file}: {e.Message}");
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"replayed {files} inputs, {FrameStreamTarget.DecodedFrames} frames decoded, {failures} failures"));
        return failures == 0 ? 0 : 1;
    case ["seed", string dir]:
        Directory.CreateDirectory(dir);
        foreach ((string name, byte[] frame) in SeedFrames.All())
        {
            File.WriteAllBytes(Path.Combine(dir, name), frame);
        }

        Console.WriteLine($"wrote {SeedFrames.All().Count()} seeds to {dir}");
        return 0;
    default:
        Console.Error.WriteLine("usage: MirrorKv.Fuzz [replay <dir> | seed <dir>]");
        return 2;
}
