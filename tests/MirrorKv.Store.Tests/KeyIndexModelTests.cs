using System.Text;
using CsCheck;
using MirrorKv.Entries;
using MirrorKv.Memory;

namespace MirrorKv.Store.Tests;

/// <summary>The key index against a dictionary, with forced collisions, runs that wrap around the end, growth and backward-shift deletion.</summary>
public sealed class KeyIndexModelTests : IDisposable
{
    private const int SlotSize = 64;
    private readonly MemoryChunks _region = NewMemory();

    public void Dispose() => _region.Dispose();

    private static MemoryChunks NewMemory()
    {
        var memory = new MemoryChunks(64 << 10);
        memory.Add(1 << 20, AccessFlags.RemoteRead);
        return memory;
    }

    [Fact]
    public void RandomOperations_MatchDictionary()
    {
        Gen.Select(Gen.Int[0, int.MaxValue], Gen.Int[0, 2]).Sample((seed, collide) =>
        {
            var index = new KeyIndex(_region, initialCapacity: 16);
            var model = new Dictionary<int, ulong>();
            var random = new Random(seed);
            for (int step = 0; step < 3000; step++)
            {
                int k = random.Next(400);
                byte[] key = KeyBytes(k);
                ulong hash = Hash(k, key, collide);
                switch (random.Next(4))
                {
                    case 3:
                        // By slot: the key's own slot removes it; a slot no key is indexed at removes nothing.
                        ulong named = random.Next(3) == 0 ? Slot(400 + random.Next(100)) : Slot(k);
                        bool holds = model.TryGetValue(k, out ulong at) && at == named;
                        Assert.Equal(holds, index.RemoveSlot(hash, named));
                        if (holds)
                        {
                            model.Remove(k);
                        }

                        break;
                    case 0:
                        ulong slot = Slot(k);
                        Assert.Equal(!model.ContainsKey(k), index.Set(key, hash, slot));
                        model[k] = slot;
                        break;
                    case 1:
                        Assert.Equal(model.Remove(k, out ulong removed), index.Remove(key, hash, out ulong got));
                        Assert.Equal(removed, got);
                        break;
                    default:
                        Assert.Equal(model.TryGetValue(k, out ulong expected), index.TryGet(key, hash, out ulong found));
                        Assert.Equal(expected, found);
                        break;
                }
            }

            Assert.Equal(model.Count, index.Count);
            foreach ((int k, ulong slot) in model)
            {
                byte[] key = KeyBytes(k);
                Assert.True(index.TryGet(key, Hash(k, key, collide), out ulong found));
                Assert.Equal(slot, found);
            }
        }, iter: 40);
    }

    [Fact]
    public void Remove_InMiddleOfCollisionRun_KeepsLaterKeysReachable()
    {
        var index = new KeyIndex(_region, initialCapacity: 64);
        const ulong sameHome = 0xABCD_0000_0000_0000;
        for (int k = 0; k < 6; k++)
        {
            index.Set(KeyBytes(k), sameHome + (ulong)k, Slot(k));
        }

        Assert.True(index.Remove(KeyBytes(2), sameHome + 2, out _));
        Assert.True(index.Remove(KeyBytes(0), sameHome, out _));
        for (int k = 0; k < 6; k++)
        {
            Assert.Equal(k is not (0 or 2), index.TryGet(KeyBytes(k), sameHome + (ulong)k, out ulong slot));
            Assert.True(k is 0 or 2 || slot == Slot(k));
        }
    }

    [Fact]
    public void BytesFor_AnyKeyCount_StaysBetweenNineAndElevenBytesAKey()
    {
        // The index is most of an entry's overhead beyond its header (docs/benchmarks.md, memory per entry):
        // growing by a quarter at 9/10 load keeps it at 8.9 to 11.1 bytes a key, where doubling at 3/4 load
        // gave up to 21.3.
        for (long keys = 10_000; keys <= 20_000_000; keys += keys / 97)
        {
            double perKey = (double)KeyIndex.BytesFor(keys) / keys;
            Assert.InRange(perKey, 8.0 / 0.9, 11.2);
        }
    }

    [Fact]
    public void Set_ManyKeys_IndexBytesFollowBytesFor()
    {
        var index = new KeyIndex(_region, initialCapacity: 16);
        for (int k = 0; k < 5000; k++)
        {
            index.Set(KeyBytes(k), KeyIndex.Hash(KeyBytes(k)), Slot(k));
            Assert.Equal(KeyIndex.BytesFor(index.Count), index.MemoryBytes);
        }
    }

    [Fact]
    public void EqualFullTags_AreToldApartByTheKeyInTheSlot()
    {
        var index = new KeyIndex(_region, initialCapacity: 16);
        const ulong hash = 0x1234_5678_0000_0000;
        index.Set(KeyBytes(1), hash, Slot(1));
        index.Set(KeyBytes(2), hash, Slot(2));
        Assert.True(index.TryGet(KeyBytes(2), hash, out ulong slot) && slot == Slot(2));
        Assert.True(index.TryGet(KeyBytes(1), hash, out slot) && slot == Slot(1));
        Assert.False(index.TryGet(KeyBytes(3), hash, out _));
    }

    [Fact]
    public void TryGet_AllocatesNothing()
    {
        var index = new KeyIndex(_region);
        byte[][] keys = Enumerable.Range(0, 1000).Select(KeyBytes).ToArray();
        ulong[] hashes = keys.Select(k => KeyIndex.Hash(k)).ToArray();
        for (int k = 0; k < keys.Length; k++)
        {
            index.Set(keys[k], hashes[k], Slot(k));
        }

        for (int k = 0; k < keys.Length; k++)
        {
            index.TryGet(keys[k], hashes[k], out _);
        }

        // 10,000 lookups allocate nothing once the runtime is done with the code: one round in three must be clean.
        IReadOnlyList<long> rounds = SteadyStateAllocations.Rounds(() =>
        {
            for (int round = 0; round < 10; round++)
            {
                for (int k = 0; k < keys.Length; k++)
                {
                    index.TryGet(keys[k], hashes[k], out _);
                }
            }
        });

        Assert.True(rounds[^1] == 0, $"bytes allocated per 10,000 lookups: {string.Join(", ", rounds)}");
    }

    // 0: the real hash; 1: seven tags, so long runs of equal homes; 2: seven tags at the top of the range, so
    // runs that start at the last buckets and wrap around to the first.
    private static ulong Hash(int k, byte[] key, int collide) => collide switch
    {
        1 => (ulong)(k % 7) << 58,
        2 => (ulong)(uint.MaxValue - (uint)(k % 7)) << 32 | (uint)k,
        _ => KeyIndex.Hash(key),
    };

    private static byte[] KeyBytes(int k) => Encoding.ASCII.GetBytes($"key-{k}");

    // Each key lives in its own slot, written once: the index compares against the key stored there.
    private ulong Slot(int k)
    {
        ulong offset = (ulong)k * SlotSize;
        Span<byte> slot = _region.GetSpan(offset, SlotSize);
        if (EntryCodec.ReadVersion(slot) == 0)
        {
            EntryCodec.Write(slot, 2, KeyBytes(k), [], EntryFlags.Live);
        }

        return offset;
    }
}
