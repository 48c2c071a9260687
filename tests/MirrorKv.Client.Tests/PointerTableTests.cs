using CsCheck;
using MirrorKv.Client;
using MirrorKv.Memory;

namespace MirrorKv.Client.Tests;

/// <summary>The client's flat pointer table: the same answers as a dictionary, and no torn pointer under concurrent writes.</summary>
/// <remarks>
/// Alone, not beside other tests: its busy threads take both cores for a while, and the pairs of other
/// tests would take the silence for a dead peer.
/// </remarks>
[Collection(nameof(PointerTableTests))]
public class PointerTableTests
{
    private static CachedPointer Pointer(int n) => new(new RemotePointer(7, 0x1000UL + (ulong)n * 64, (uint)(48 + n % 100)), (ulong)n);

    [Fact]
    public void RandomOperations_AnswerAsADictionaryDoes()
    {
        // Operations over a small key space, so that keys are set, forgotten and set again, and the table grows.
        Gen.Select(Gen.Int[0, 3], Gen.Int[0, 1500], Gen.Int[1, 1_000_000]).Array[1, 3000].Sample(operations =>
        {
            var table = new PointerTable();
            var model = new Dictionary<string, CachedPointer>();
            foreach ((int kind, int k, int n) in operations)
            {
                string key = "key:" + k;
                switch (kind)
                {
                    case 0 or 1:
                        table.Set(key, Pointer(n));
                        model[key] = Pointer(n);
                        break;
                    case 2:
                        table.Set(key, default);
                        model.Remove(key);
                        break;
                    default:
                        // Replace only what is there: a stale expectation changes nothing.
                        CachedPointer expected = model.TryGetValue(key, out CachedPointer current) && n % 2 == 0 ? current : Pointer(n + 1);
                        bool replaced = table.TryReplace(key, expected, Pointer(n));
                        Assert.Equal(model.TryGetValue(key, out current) && current == expected, replaced);
                        if (replaced)
                        {
                            model[key] = Pointer(n);
                        }

                        break;
                }
            }

            Assert.Equal(model.Count, table.Count);
            for (int k = 0; k <= 1500; k++)
            {
                string key = "key:" + k;
                Assert.Equal(model.TryGetValue(key, out CachedPointer expected), table.TryGet(key, out CachedPointer actual));
                Assert.Equal(expected, actual);
            }
        }, iter: 40);
    }

    [Fact]
    public void RewriteAll_MapsMatchingPointersAndForgetsThoseMappedToNothing()
    {
        var table = new PointerTable();
        for (int i = 0; i < 1000; i++)
        {
            table.Set("k" + i, i % 3 == 0 ? Pointer(i) with { Pointer = new RemotePointer(9, 64, 64) } : Pointer(i));
        }

        long rewritten = table.RewriteAll(c => c.Pointer.RKey != 7 ? null
            : c.MinVersion % 2 == 0 ? c with { Pointer = c.Pointer with { RKey = 8 } } : default(CachedPointer));

        Assert.Equal(Enumerable.Range(0, 1000).Count(i => i % 3 != 0 && i % 2 == 0), rewritten);
        for (int i = 0; i < 1000; i++)
        {
            bool found = table.TryGet("k" + i, out CachedPointer cached);
            if (i % 3 == 0)
            {
                Assert.Equal(9U, cached.Pointer.RKey);
            }
            else if (i % 2 == 0)
            {
                Assert.Equal(Pointer(i) with { Pointer = Pointer(i).Pointer with { RKey = 8 } }, cached);
            }
            else
            {
                Assert.False(found);
            }
        }
    }

    [Fact]
    public async Task ConcurrentReaders_NeverSeeATornPointer_WhileWritersRewriteAndTheTableGrows()
    {
        var table = new PointerTable();
        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        long torn = 0, reads = 0;

        // Every value a writer stores is self-consistent: address, length and version all derive from n.
        static bool Consistent(in CachedPointer c) =>
            c.Pointer.Address == 0x1000UL + c.MinVersion * 64 && c.Pointer.Length == 48 + (uint)(c.MinVersion % 100);

        Task[] writers = Enumerable.Range(0, 2).Select(w => Task.Run(() =>
        {
            var random = new Random(w);
            for (int n = 0; !stop.IsCancellationRequested; n++)
            {
                // Hot keys rewritten all the time, and fresh keys forgotten a thousand later: the used slots
                // keep filling up, so the table keeps being copied into new arrays, in bounded memory.
                table.Set("hot" + random.Next(8), Pointer(random.Next(1, 1_000_000)));
                table.Set($"cold{w}:{n}", Pointer(n + 1));
                table.Set($"cold{w}:{n - 1000}", default);
            }
        })).ToArray();
        Task[] readers = Enumerable.Range(0, 2).Select(r => Task.Run(() =>
        {
            var random = new Random(100 + r);
            while (!stop.IsCancellationRequested)
            {
                if (table.TryGet("hot" + random.Next(8), out CachedPointer cached))
                {
                    Interlocked.Increment(ref reads);
                    if (!Consistent(cached))
                    {
                        Interlocked.Increment(ref torn);
                    }
                }
            }
        })).ToArray();

        await Task.WhenAll([.. writers, .. readers]);
        Assert.True(reads > 0);
        Assert.Equal(0, torn);
        Assert.InRange(table.Count, 9, 8 + 2 * 1001);
    }
}

/// <summary>Runs <see cref="PointerTableTests"/> with no other test at the same time.</summary>
[CollectionDefinition(nameof(PointerTableTests), DisableParallelization = true)]
public sealed class PointerTableTestsCollection;
