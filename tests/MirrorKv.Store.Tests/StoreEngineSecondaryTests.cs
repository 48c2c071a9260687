using System.Text;
using CsCheck;
using MirrorKv.Entries;
using MirrorKv.Memory;

namespace MirrorKv.Store.Tests;

/// <summary>
/// Replication of slot images with per-slab translation: a secondary whose slabs are claimed in the opposite
/// order holds the primary's bytes at translated addresses, keeps its own index, and can take over.
/// </summary>
public class StoreEngineSecondaryTests
{
    private static readonly StoreOptions Primary = new() { MaxMemory = 16UL << 20, SlabSize = 64 << 10 };
    private static readonly StoreOptions Secondary = Primary with { SlabOrder = SlabOrder.Descending };

    [Fact]
    public void Apply_RandomWorkload_SecondaryHoldsSameEntriesAtTranslatedAddresses()
    {
        Gen.Int[0, int.MaxValue].Sample(seed =>
        {
            using var pair = new Pair();
            Dictionary<string, byte[]> model = pair.RunWorkload(seed, operations: 400);
            pair.ApplyAll();
            pair.AssertMirrors(model);
        }, iter: 40);
    }

    [Fact]
    public void Apply_Workload_UsesAtLeastTwoDistinctDeltas()
    {
        using var pair = new Pair();
        pair.RunWorkload(seed: 1, operations: 400);
        pair.ApplyAll();
        Assert.True(pair.Secondary.Translation!.Current.CountDistinctDeltas() >= 2);
    }

    [Fact]
    public void Apply_WorkloadWithManySlabMoves_SecondaryHoldsSameEntries_AndStalePointersFindNoEntry()
    {
        Gen.Int[0, int.MaxValue].Sample(seed =>
        {
            // 8 slabs of 4 KiB: phases of one size range each, most keys deleted at the phase's end, so that
            // slabs empty out and move between classes many times.
            using var pair = new Pair(new StoreOptions { MaxMemory = 32 << 10, SlabSize = 4096 });
            var random = new Random(seed);
            var model = new Dictionary<string, byte[]>();
            var pointers = new List<(byte[] Key, RemotePointer Pointer)>();
            for (int phase = 0; phase < 12; phase++)
            {
                for (int op = 0; op < 60; op++)
                {
                    string key = $"key-{random.Next(60)}";
                    var value = new byte[(phase % 3) switch { 0 => random.Next(1, 40), 1 => random.Next(200, 400), _ => random.Next(900, 1800) }];
                    random.NextBytes(value);
                    StoreWriteResult w = pair.Primary.Write(Bytes(key), value);
                    Assert.True(w.Status is StoreStatus.Ok or StoreStatus.OutOfMemory);
                    if (w.Status == StoreStatus.Ok)
                    {
                        model[key] = value;
                        pointers.Add((Bytes(key), w.Pointer));
                    }
                }

                foreach (string key in model.Keys.Where(_ => random.Next(8) != 0).ToList())
                {
                    pair.Primary.Delete(Bytes(key));
                    model.Remove(key);
                }

                pair.ApplyAll(fromRecord: pair.Applied);
            }

            Assert.True(pair.Primary.SlabsMoved >= 4, $"only {pair.Primary.SlabsMoved} slab moves");
            Assert.Equal(pair.Primary.SlabsMoved, pair.Secondary.SlabsMoved);
            pair.AssertMirrors(model);

            // A primary pointer the client may still hold: translated (when its slab is mapped) and read on the
            // secondary, it yields its own key's current value or no entry, never another key's.
            TranslationSnapshot translation = pair.Secondary.Translation!.Current;
            foreach ((byte[] key, RemotePointer primary) in pointers)
            {
                if (translation.TryTranslate(primary, out RemotePointer local) != TranslationStatus.Ok)
                {
                    continue;
                }

                ReadOnlySpan<byte> copy = pair.Secondary.SpanAt(local);
                if (EntryValidator.Validate(copy, key, 0, out ValidatedEntry entry) == EntryStatus.Ok)
                {
                    Assert.Equal(model[Encoding.UTF8.GetString(key)], entry.ValueOf(copy).ToArray());
                }
            }
        }, iter: 30);
    }

    [Fact]
    public void ApplySlabRelease_BadPointers_AreRefused_AndAReleaseNeverMirroredIsANoOp()
    {
        using var pair = new Pair();
        pair.Primary.Write("k"u8, "v"u8);

        // Two more size classes: the chunks of one slab and then of two; the second slab of that one stays unclaimed.
        pair.Primary.Write("k2"u8, new byte[300]);
        pair.Primary.Write("k3"u8, new byte[600]);
        pair.ApplyAll();
        Assert.Equal(3, pair.Primary.Regions.Count);
        uint rkey = pair.Primary.Regions[0].RKey;
        ulong slabBase = pair.Primary.Regions[0].BaseAddress;
        int slabSize = Primary.SlabSize;
        MemoryRegion third = pair.Primary.Regions[2];

        Assert.Equal(ApplyStatus.NotSecondary, pair.Primary.ApplySlabRelease(new RemotePointer(rkey, slabBase, (uint)slabSize)));
        Assert.Equal(ApplyStatus.BadAddress, pair.Secondary.ApplySlabRelease(new RemotePointer(rkey + 1, slabBase, (uint)slabSize)));
        Assert.Equal(ApplyStatus.BadAddress, pair.Secondary.ApplySlabRelease(new RemotePointer(rkey, slabBase + 16, (uint)slabSize)));
        Assert.Equal(ApplyStatus.BadAddress, pair.Secondary.ApplySlabRelease(new RemotePointer(rkey, slabBase, 32)));

        // Slab 0 still holds "k" on the secondary: a release there would drop a live key, so the secondary refuses it.
        Assert.Equal(ApplyStatus.SlotMismatch, pair.Secondary.ApplySlabRelease(new RemotePointer(rkey, slabBase, (uint)slabSize)));
        Assert.True(pair.Secondary.TryLookup("k"u8, out _, out _));
        Assert.Equal(ApplyStatus.BadAddress, pair.Secondary.ApplySlabRelease(new RemotePointer(rkey, slabBase + (ulong)slabSize, (uint)slabSize)));
        Assert.Equal(ApplyStatus.Applied, pair.Secondary.ApplySlabRelease(new RemotePointer(third.RKey, third.BaseAddress + (ulong)slabSize, (uint)slabSize)));
    }

    [Fact]
    public void Apply_ReplayedRecords_AreAlreadyAppliedAndChangeNothing()
    {
        using var pair = new Pair();
        Dictionary<string, byte[]> model = pair.RunWorkload(seed: 7, operations: 300);
        pair.ApplyAll();
        byte[] before = [.. pair.Secondary.Regions.SelectMany(r => r.GetSpan(0, (int)r.Length).ToArray())];

        Assert.All(pair.ApplyAll(), s => Assert.Equal(ApplyStatus.AlreadyApplied, s));
        Assert.Equal(before, pair.Secondary.Regions.SelectMany(r => r.GetSpan(0, (int)r.Length).ToArray()).ToArray());
        pair.AssertMirrors(model);
    }

    [Fact]
    public void TryLookup_AtSecondary_ReturnsTranslatedPrimaryPointer()
    {
        using var pair = new Pair();
        pair.RunWorkload(seed: 3, operations: 200);
        pair.ApplyAll();
        foreach (string key in pair.LiveKeys())
        {
            Assert.True(pair.Primary.TryLookup(Bytes(key), out RemotePointer primary, out ulong version));
            Assert.True(pair.Secondary.TryLookup(Bytes(key), out RemotePointer local, out ulong localVersion));
            Assert.Equal(pair.Secondary.Translation!.Translate(primary), local);
            Assert.NotEqual(primary.Address, local.Address);
            Assert.Equal(version, localVersion);
        }
    }

    [Fact]
    public void ReadAtPrimaryAddress_OnSecondary_IsRefusedWithoutTranslation()
    {
        using var pair = new Pair();
        pair.RunWorkload(seed: 5, operations: 50);
        pair.ApplyAll();
        var registry = new RegionRegistry();
        foreach (MemoryRegion region in pair.Secondary.Regions)
        {
            registry.Register(region);
        }

        string key = pair.LiveKeys().First();
        Assert.True(pair.Primary.TryLookup(Bytes(key), out RemotePointer primary, out _));

        Assert.NotEqual(AccessStatus.Ok, registry.Check(primary, AccessFlags.RemoteRead, AccessFlags.RemoteRead, out _));
        foreach (MemoryRegion region in pair.Secondary.Regions)
        {
            var untranslatedButRekeyed = primary with { RKey = region.RKey };
            Assert.NotEqual(AccessStatus.Ok, registry.Check(untranslatedButRekeyed, AccessFlags.RemoteRead, AccessFlags.RemoteRead, out _));
        }
    }

    [Fact]
    public void Write_OnSecondary_IsRefused()
    {
        using var pair = new Pair();
        Assert.Equal(StoreStatus.ReadOnlySecondary, pair.Secondary.Write("k"u8, "v"u8).Status);
        Assert.Equal(StoreStatus.ReadOnlySecondary, pair.Secondary.Delete("k"u8).Status);
    }

    [Fact]
    public void Apply_OnPrimary_IsNotSecondary()
    {
        using var pair = new Pair();
        pair.Primary.Write("a"u8, "1"u8);
        Assert.Equal(ApplyStatus.NotSecondary, pair.Primary.Apply(pair.Changes.Records[0].ToChange()));
    }

    [Fact]
    public void MirrorPrimaryRegion_OnNonEmptyStore_Throws()
    {
        using var store = new StoreEngine(Primary);
        store.Write("a"u8, "1"u8);
        Assert.Throws<InvalidOperationException>(() => store.MirrorPrimaryRegion(0x1234, 0x10000, (ulong)Primary.SlabSize * 4));
    }

    [Fact]
    public void Apply_BadRecords_AreRefusedWithReason()
    {
        using var pair = new Pair();
        pair.Primary.Write("a"u8, "1"u8);
        Record good = pair.Changes.Records[0];

        Assert.Equal(ApplyStatus.SlotMismatch, pair.Secondary.Apply((good with { Slot = good.Slot with { Length = 33 } }).ToChange()));
        Assert.Equal(ApplyStatus.BadEntry, pair.Secondary.Apply((good with { Version = 3 }).ToChange()));
        Assert.Equal(ApplyStatus.BadEntry, pair.Secondary.Apply((good with { Flags = EntryFlags.None }).ToChange()));
        Assert.Equal(ApplyStatus.BadEntry, pair.Secondary.Apply((good with { Value = new byte[good.Slot.Length] }).ToChange()));
        Assert.Equal(ApplyStatus.BadAddress, pair.Secondary.Apply((good with { Slot = good.Slot with { RKey = good.Slot.RKey + 1 } }).ToChange()));
        Assert.Equal(ApplyStatus.BadAddress, pair.Secondary.Apply((good with { Slot = good.Slot with { Address = good.Slot.Address - 16 } }).ToChange()));
        Assert.Equal(ApplyStatus.Applied, pair.Secondary.Apply(good.ToChange()));

        // The same primary slab now has a 32-byte class locally: a 48-byte slot in it does not fit.
        Assert.Equal(ApplyStatus.SlotMismatch, pair.Secondary.Apply((good with { Slot = good.Slot with { Address = good.Slot.Address + 96, Length = 48 }, Version = 100 }).ToChange()));
    }

    [Fact]
    public void Promote_AfterChurnAcrossSizeClasses_FreesEveryDeadSlotAndNoLiveOne()
    {
        Gen.Int[0, int.MaxValue].Sample(seed =>
        {
            // Small slabs, keys overwritten in other size classes and deleted: many dead slots, some slabs emptied.
            using var pair = new Pair(new StoreOptions { MaxMemory = 64 << 10, SlabSize = 4096 });
            var random = new Random(seed);
            var model = new Dictionary<string, byte[]>();
            for (int op = 0; op < 300; op++)
            {
                string key = $"key-{random.Next(80)}";
                if (random.Next(4) == 0)
                {
                    pair.Primary.Delete(Bytes(key));
                    model.Remove(key);
                    continue;
                }

                var value = new byte[random.Next(3) switch { 0 => random.Next(1, 30), 1 => random.Next(100, 300), _ => random.Next(600, 1500) }];
                random.NextBytes(value);
                if (pair.Primary.Write(Bytes(key), value).Status == StoreStatus.Ok)
                {
                    model[key] = value;
                }
            }

            pair.ApplyAll();
            long liveBytes = pair.Primary.GetStats().SlotBytesInUse;
            pair.Secondary.Promote();

            // In use after the rebuild: exactly the live keys' slots, as the primary counts them.
            Assert.Equal(liveBytes, pair.Secondary.GetStats().SlotBytesInUse);

            // Then fill it to the brim: a slot taken from a live key would show as a wrong value below.
            for (int i = 0; ; i++)
            {
                var value = new byte[random.Next(1, 1500)];
                random.NextBytes(value);
                StoreWriteResult w = pair.Secondary.Write(Bytes($"new-{i}"), value);
                if (w.Status == StoreStatus.OutOfMemory)
                {
                    break;
                }

                Assert.Equal(StoreStatus.Ok, w.Status);
                model[$"new-{i}"] = value;
            }

            foreach ((string key, byte[] value) in model)
            {
                Assert.True(pair.Secondary.TryLookup(Bytes(key), out RemotePointer p, out _), key);
                Span<byte> slot = pair.Secondary.SpanAt(p);
                Assert.Equal(EntryStatus.Ok, EntryValidator.Validate(slot, Bytes(key), 0, out ValidatedEntry e));
                Assert.Equal(value, e.ValueOf(slot).ToArray());
            }
        }, iter: 60);
    }

    [Fact]
    public void Promote_ThenReap_ReclaimsExpiredEntriesThatCameWithTheStream()
    {
        // The reaper rests in a store with no expiring entry, judged by the writes it saw; a promoted secondary's
        // entries came from the stream, so it must look before it rests.
        using var pair = new Pair();
        pair.RunWorkload(seed: 5, operations: 100);
        var value = new byte[ValueExpiry.Size + 30];
        ValueExpiry.Write(value, expiresAtUnixMs: 1_000);
        Assert.Equal(StoreStatus.Ok, pair.Primary.Write(Bytes("expiring"), value).Status);
        pair.ApplyAll();
        Assert.Equal(0, pair.Secondary.ReapExpired(nowUnixMs: 2_000, slotBudget: 1_000_000));

        pair.Secondary.Promote();
        int reaped = 0;
        for (int call = 0; call < 1_000 && reaped == 0; call++)
        {
            reaped += pair.Secondary.ReapExpired(nowUnixMs: 2_000, slotBudget: 64);
        }

        Assert.Equal(1, reaped);
        Assert.False(pair.Secondary.TryLookup(Bytes("expiring"), out _, out _));
    }

    [Fact]
    public void Promote_AfterReplication_AcceptsWritesWithoutOverwritingLiveEntries()
    {
        using var pair = new Pair();
        Dictionary<string, byte[]> model = pair.RunWorkload(seed: 11, operations: 500);
        pair.ApplyAll();
        ulong highest = pair.Primary.GetStats().LastVersion;

        pair.Secondary.Promote();
        Assert.False(pair.Secondary.IsSecondary);
        for (int i = 0; i < 300; i++)
        {
            string key = $"new-{i}";
            byte[] value = Encoding.UTF8.GetBytes(new string('n', 10 + (i % 90)));
            StoreWriteResult w = pair.Secondary.Write(Bytes(key), value);
            Assert.Equal(StoreStatus.Ok, w.Status);
            Assert.True(w.Version > highest);
            model[key] = value;
        }

        foreach ((string key, byte[] value) in model)
        {
            Assert.True(pair.Secondary.TryLookup(Bytes(key), out RemotePointer p, out _), key);
            Span<byte> slot = pair.Secondary.SpanAt(p);
            Assert.Equal(EntryStatus.Ok, EntryValidator.Validate(slot, Bytes(key), 0, out ValidatedEntry e));
            Assert.Equal(value, e.ValueOf(slot).ToArray());
        }

        Assert.Equal(model.Count, pair.Secondary.GetStats().Entries);
    }

    private static byte[] Bytes(string s) => Encoding.UTF8.GetBytes(s);

    private sealed record Record(RemotePointer Slot, ulong Version, EntryFlags Flags, byte[] Key, byte[] Value)
    {
        public SlotChange ToChange() => new(Slot, Version, Flags, Key, Value);

        /// <summary>Flags standing for a region record (the stream's flags 8): the slot is a whole new chunk.</summary>
        public const EntryFlags RegionFlag = (EntryFlags)8;

        /// <summary>A slab release is recorded with no flags: the slot is the whole slab.</summary>
        public ApplyStatus ApplyTo(StoreEngine secondary) => Flags switch
        {
            EntryFlags.None => secondary.ApplySlabRelease(Slot),
            RegionFlag => secondary.ApplyRegion(Slot),
            _ => secondary.Apply(ToChange()),
        };
    }

    private sealed class RecordingSink : IChangeSink
    {
        public List<Record> Records { get; } = [];

        public ulong Append(in SlotChange change)
        {
            Records.Add(new Record(change.Slot, change.Version, change.Flags, change.Key.ToArray(), change.Value.ToArray()));
            return 0;
        }

        public void AppendSlabRelease(in RemotePointer slab) => Records.Add(new Record(slab, 0, EntryFlags.None, [], []));

        public void AppendRegion(in RemotePointer region) => Records.Add(new Record(region, 0, Record.RegionFlag, [], []));
    }

    private sealed class Pair : IDisposable
    {
        public Pair(StoreOptions? primary = null)
        {
            Primary = new StoreEngine(primary ?? Primary_, changes: Changes);
            Secondary = new StoreEngine((primary ?? Primary_) with { SlabOrder = SlabOrder.Descending });
            foreach (MemoryRegion region in Primary.Regions)
            {
                Secondary.MirrorPrimaryRegion(region.RKey, region.BaseAddress, region.Length);
            }
        }

        private static StoreOptions Primary_ => StoreEngineSecondaryTests.Primary;

        private static StoreOptions Secondary_ => StoreEngineSecondaryTests.Secondary;

        public RecordingSink Changes { get; } = new();

        public StoreEngine Primary { get; }

        public StoreEngine Secondary { get; }

        private HashSet<string> Live { get; } = [];

        public IEnumerable<string> LiveKeys() => Live;

        public Dictionary<string, byte[]> RunWorkload(int seed, int operations)
        {
            var random = new Random(seed);
            var model = new Dictionary<string, byte[]>();
            for (int op = 0; op < operations; op++)
            {
                string key = $"key-{random.Next(60)}";
                if (random.Next(5) == 0)
                {
                    Primary.Delete(Bytes(key));
                    model.Remove(key);
                    Live.Remove(key);
                    continue;
                }

                // Sizes span several classes so that in-place updates, relocations and slot reuse all happen.
                var value = new byte[random.Next(4) switch { 0 => random.Next(1, 40), 1 => random.Next(40, 200), 2 => random.Next(200, 700), _ => random.Next(700, 3000) }];
                random.NextBytes(value);
                Assert.Equal(StoreStatus.Ok, Primary.Write(Bytes(key), value).Status);
                model[key] = value;
                Live.Add(key);
            }

            return model;
        }

        /// <summary>Records applied by the last <see cref="ApplyAll"/>.</summary>
        public int Applied { get; private set; }

        public List<ApplyStatus> ApplyAll(int fromRecord = 0)
        {
            var statuses = new List<ApplyStatus>();
            Applied = Changes.Records.Count;
            foreach (Record r in Changes.Records.Skip(fromRecord))
            {
                ApplyStatus s = r.ApplyTo(Secondary);
                Assert.True(s is ApplyStatus.Applied or ApplyStatus.AlreadyApplied, $"apply of {r.Slot} v{r.Version}: {s}");
                statuses.Add(s);
            }

            return statuses;
        }

        public void AssertMirrors(Dictionary<string, byte[]> model)
        {
            TranslationSnapshot translation = Secondary.Translation!.Current;
            Assert.Equal(model.Count, Secondary.GetStats().Entries);
            foreach ((string key, byte[] value) in model)
            {
                Assert.True(Primary.TryLookup(Bytes(key), out RemotePointer primary, out _));
                RemotePointer local = translation.Translate(primary);
                Span<byte> slot = Secondary.SpanAt(local);
                Assert.Equal(EntryStatus.Ok, EntryValidator.Validate(slot, Bytes(key), 0, out ValidatedEntry entry));
                Assert.Equal(value, entry.ValueOf(slot).ToArray());
                int entrySize = EntryLayout.EntrySize(key.Length, value.Length);
                Assert.Equal(
                    Primary.SpanAt(primary)[..entrySize].ToArray(),
                    slot[..entrySize].ToArray());
            }

            foreach (string gone in Enumerable.Range(0, 60).Select(i => $"key-{i}").Where(k => !model.ContainsKey(k)))
            {
                Assert.False(Secondary.TryLookup(Bytes(gone), out _, out _), gone);
            }
        }

        public void Dispose()
        {
            Primary.Dispose();
            Secondary.Dispose();
        }
    }
}
