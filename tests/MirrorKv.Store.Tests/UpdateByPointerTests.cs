using CsCheck;
using MirrorKv.Entries;
using MirrorKv.Memory;

namespace MirrorKv.Store.Tests;

/// <summary>
/// Writes that carry the caller's pointer: the slot it names is used when it holds the key, and anything
/// else (a pointer that is wrong, stale, foreign or garbage) changes nothing about the outcome.
/// </summary>
public sealed class UpdateByPointerTests : IDisposable
{
    private static readonly StoreOptions Small = new() { MaxMemory = 4UL << 20, SlabSize = 64 << 10 };
    private readonly StoreEngine _store = new(Small);

    public void Dispose() => _store.Dispose();

    [Fact]
    public void Write_WithThePointerOfTheKeysSlot_UpdatesThereWithoutTheIndex()
    {
        StoreWriteResult first = _store.Write("k"u8, "v1"u8);

        StoreWriteResult second = _store.Write("k"u8, "v2"u8, first.Pointer);
        StoreWriteResult third = _store.Update("k"u8, "v3"u8, second.Pointer);

        Assert.Equal((WriteKind.UpdatedInPlace, first.Pointer), (second.Kind, second.Pointer));
        Assert.Equal((WriteKind.UpdatedInPlace, first.Pointer), (third.Kind, third.Pointer));
        Assert.Equal(2, _store.ResolvedByPointer);
        Assert.Equal("v3", ValueAt(third.Pointer, "k"));
    }

    [Fact]
    public void Write_ThatOutgrowsTheSlotAtThePointer_RelocatesAndIndexesTheNewSlot()
    {
        StoreWriteResult first = _store.Write("k"u8, new byte[10]);

        StoreWriteResult moved = _store.Write("k"u8, new byte[500], first.Pointer);

        Assert.Equal(WriteKind.Relocated, moved.Kind);
        Assert.Equal(first.Pointer, moved.PreviousPointer);
        Assert.True(_store.TryLookup("k"u8, out RemotePointer indexed, out _));
        Assert.Equal(moved.Pointer, indexed);

        // The old pointer now names a tombstone: the index decides, and finds the new slot.
        StoreWriteResult again = _store.Write("k"u8, new byte[500], first.Pointer);
        Assert.Equal((WriteKind.UpdatedInPlace, moved.Pointer), (again.Kind, again.Pointer));
        Assert.Equal(1, _store.ResolvedByPointer);
    }

    public static TheoryData<string> WrongPointers => ["other rkey", "inside the slot", "wrong length", "past the region", "before the region", "another key's slot", "deleted key", "unclaimed slab"];

    [Theory]
    [MemberData(nameof(WrongPointers))]
    public void Write_WithAPointerThatDoesNotHoldTheKey_FallsBackToTheIndex(string wrong)
    {
        StoreWriteResult k = _store.Write("k"u8, "v1"u8);
        StoreWriteResult other = _store.Write("other"u8, "x"u8);
        StoreWriteResult gone = _store.Write("gone"u8, "x"u8);
        _store.Delete("gone"u8);
        RemotePointer at = wrong switch
        {
            "other rkey" => k.Pointer with { RKey = k.Pointer.RKey ^ 1 },
            "inside the slot" => k.Pointer with { Address = k.Pointer.Address + 8 },
            "wrong length" => k.Pointer with { Length = k.Pointer.Length * 2 },
            "past the region" => k.Pointer with { Address = _store.Regions[0].BaseAddress + _store.Regions[0].Length },
            "before the region" => k.Pointer with { Address = _store.Regions[0].BaseAddress - (ulong)Small.SlabSize },
            "another key's slot" => other.Pointer,
            "deleted key" => gone.Pointer,
            _ => k.Pointer with { Address = _store.Regions[^1].BaseAddress + _store.Regions[^1].Length - (ulong)Small.SlabSize },
        };

        StoreWriteResult w = _store.Write("k"u8, "v2"u8, at);

        Assert.Equal((StoreStatus.Ok, WriteKind.UpdatedInPlace, k.Pointer), (w.Status, w.Kind, w.Pointer));
        Assert.Equal(0, _store.ResolvedByPointer);
        Assert.Equal("v2", ValueAt(k.Pointer, "k"));
        Assert.Equal("x", ValueAt(other.Pointer, "other"));
    }

    [Fact]
    public void Update_OfADeletedKey_WithItsOldPointer_IsNotFound()
    {
        StoreWriteResult k = _store.Write("k"u8, "v1"u8);
        _store.Delete("k"u8);

        Assert.Equal(StoreStatus.NotFound, _store.Update("k"u8, "v2"u8, k.Pointer).Status);
    }

    /// <summary>
    /// Two engines get the same writes, one with no pointers and one with a pointer per write drawn from
    /// the key's last pointer (right, or stale once it moved or was deleted), any pointer returned before, a foreign one, garbage or none: every result and the final
    /// contents are the same (versions and slots included, since the pointer path picks the slot the index holds).
    /// </summary>
    [Fact]
    public void RandomWrites_WithAnyPointers_DoWhatTheIndexAloneDoes()
    {
        Gen.Int[0, int.MaxValue].Sample(seed =>
        {
            using var plain = new StoreEngine(Small);
            using var hinted = new StoreEngine(Small);
            var random = new Random(seed);
            var seen = new List<RemotePointer>();
            var lastOf = new Dictionary<int, RemotePointer>();
            for (int step = 0; step < 2000; step++)
            {
                int k = random.Next(60);
                byte[] key = System.Text.Encoding.UTF8.GetBytes($"k{k}");
                byte[] value = new byte[random.Next(4) switch { 0 => random.Next(0, 20), 1 => random.Next(20, 200), 2 => random.Next(200, 900), _ => random.Next(900, 3000) }];
                random.NextBytes(value);
                RemotePointer at = random.Next(10) switch
                {
                    0 => default,
                    1 => new RemotePointer((uint)random.Next(), (ulong)random.NextInt64(), (uint)random.Next()),
                    2 when seen.Count > 0 => Shift(seen[random.Next(seen.Count)], hinted, random),
                    3 or 4 when seen.Count > 0 => Shift(seen[random.Next(seen.Count)], hinted, random: null),
                    _ => lastOf.TryGetValue(k, out RemotePointer last) ? Shift(last, hinted, random: null) : default,
                };

                int op = random.Next(5);
                StoreWriteResult expected = op switch { 0 => plain.Update(key, value), 1 => plain.Delete(key), _ => plain.Write(key, value) };
                StoreWriteResult got = op switch { 0 => hinted.Update(key, value, at), 1 => hinted.Delete(key), _ => hinted.Write(key, value, at) };

                Assert.Equal((expected.Status, expected.Kind, expected.Version), (got.Status, got.Kind, got.Version));
                Assert.Equal(Offset(plain, expected.Pointer), Offset(hinted, got.Pointer));
                if (got.IsOk)
                {
                    seen.Add(Relative(plain, expected.Pointer));
                    lastOf[k] = Relative(plain, expected.Pointer);
                }
            }

            Assert.Equal(plain.GetStats(), hinted.GetStats());
            Assert.True(Contents(plain).SequenceEqual(Contents(hinted)), "the two stores' chunks differ");
            Assert.True(hinted.ResolvedByPointer > 100, $"only {hinted.ResolvedByPointer} writes took the pointer path");
        }, iter: 20);
    }

    // Pointers are kept relative to the store they came from (their offset in its chunks), and placed into the
    // hinted engine's chunk at that offset (as a client's table rewrite would), or left foreign.
    private static RemotePointer Relative(StoreEngine store, RemotePointer p) => p with { Address = Offset(store, p) };

    private static RemotePointer Shift(RemotePointer relative, StoreEngine into, Random? random) =>
        random is null ? into.Memory.PointerAt(relative.Address, relative.Length) : relative with { Address = relative.Address + into.Regions[0].BaseAddress };

    private static ulong Offset(StoreEngine store, RemotePointer p) => !p.IsNull && store.Memory.TryGetOffset(p.RKey, p.Address, out ulong offset) ? offset : ulong.MaxValue;

    private static byte[] Contents(StoreEngine store) => [.. store.Regions.SelectMany(r => r.GetSpan(0, (int)r.Length).ToArray())];

    private string ValueAt(RemotePointer p, string key)
    {
        ReadOnlySpan<byte> slot = _store.SpanAt(p);
        Assert.Equal(EntryStatus.Ok, EntryValidator.Validate(slot, System.Text.Encoding.UTF8.GetBytes(key), 0, out ValidatedEntry entry));
        return System.Text.Encoding.UTF8.GetString(entry.ValueOf(slot));
    }
}
