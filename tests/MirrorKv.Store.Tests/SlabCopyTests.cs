using System.Buffers.Binary;
using System.Text;
using CsCheck;
using MirrorKv.Memory;

namespace MirrorKv.Store.Tests;

/// <summary>
/// The joining secondary's bulk copy (<see cref="StoreEngine.ApplySlabCopy"/>): whole slab images, copied while
/// the primary keeps writing, applied beside the stream in any order, end identical to the primary; a torn slot
/// is never indexed; an older image never overwrites a newer streamed record.
/// </summary>
public class SlabCopyTests
{
    private const int Keys = 120;
    private static readonly StoreOptions PrimaryOptions = new() { RegionSize = 16UL << 20, SlabSize = 64 << 10 };
    private static readonly StoreOptions ReplicaOptions = PrimaryOptions with { SlabOrder = SlabOrder.Descending };

    [Fact]
    public void ApplySlabCopy_ImagesTakenBetweenWrites_InAnyOrderWithStream_EndIdenticalToPrimary()
    {
        // Single-threaded, so every image is whole but taken at a different moment: some before and some after
        // the records that touch their slots, and applied before or after those records, at random.
        Gen.Int[0, int.MaxValue].Sample(seed =>
        {
            using var pair = new Pair();
            var random = new Random(seed);
            pair.Workload(random, 600);
            (int attachLsn, IReadOnlyList<(int Slab, int SlotSize)> layout) = pair.Attach();
            var images = new List<Image>();
            var pending = new Queue<(int Slab, int SlotSize)>(layout.OrderBy(_ => random.Next()));
            for (int op = 0; op < 600; op++)
            {
                pair.Workload(random, 1);
                if (pending.Count > 0 && random.Next(3) == 0)
                {
                    images.Add(pair.Copy(pending.Dequeue()));
                }
            }

            images.AddRange(pending.Select(pair.Copy));
            pair.ApplyInterleaved(images, attachLsn, random);
            pair.AssertIdentical();
        }, iter: 60);
    }

    [Fact]
    public async Task ApplySlabCopy_CopyRacingAWriterThread_EndsIdenticalToPrimary()
    {
        // Images copied byte by byte while another thread writes, as the primary's adapter serves a READ: some
        // slots are torn, and must be left to the stream.
        for (int seed = 0; seed < 12; seed++)
        {
            using var pair = new Pair();
            var random = new Random(seed);
            pair.Workload(random, 800);
            (int attachLsn, IReadOnlyList<(int Slab, int SlotSize)> layout) = pair.Attach();
            using var stop = new CancellationTokenSource();
            Task writer = Task.Run(() =>
            {
                var writes = new Random(seed + 1000);
                while (!stop.IsCancellationRequested)
                {
                    pair.Workload(writes, 1);
                }
            });

            var images = new List<Image>();
            for (int pass = 0; pass < 4; pass++)
            {
                // The same slabs several times, so that some images are older than others of the same slab.
                images.AddRange(layout.Select(pair.Copy));
            }

            await stop.CancelAsync();
            await writer;
            pair.ApplyInterleaved(images, attachLsn, random);
            pair.AssertIdentical();
        }
    }

    [Fact]
    public void ApplySlabCopy_TornSlots_AreSkippedAndNeverIndexed()
    {
        using var pair = new Pair();
        for (int i = 0; i < 4; i++)
        {
            pair.Primary.Write(Key(i), new byte[100]);
        }

        (_, IReadOnlyList<(int Slab, int SlotSize)> layout) = pair.Attach();
        Image image = pair.Copy(layout.Single());
        int slotSize = image.SlotSize;

        // Slot 1: a value byte changed under the copy (checksum mismatch). Slot 2: caught mid-write (odd version).
        image.Bytes[slotSize + EntryLayout.HeaderSize + 20] ^= 0xff;
        BinaryPrimitives.WriteUInt64LittleEndian(image.Bytes.AsSpan(2 * slotSize), BinaryPrimitives.ReadUInt64LittleEndian(image.Bytes.AsSpan(2 * slotSize)) + 1);

        SlabCopyResult result = pair.Apply(image);
        Assert.Equal(new SlabCopyResult(ApplyStatus.Applied, Applied: 2, Torn: 2, NotNewer: 0), result);
        Assert.True(pair.Replica.TryLookup(Key(0), out _, out _));
        Assert.False(pair.Replica.TryLookup(Key(1), out _, out _));
        Assert.False(pair.Replica.TryLookup(Key(2), out _, out _));
        Assert.True(pair.Replica.TryLookup(Key(3), out _, out _));
        Assert.Equal(2, pair.Replica.GetStats().Entries);

        // The torn slots stay blank: the records of the writes that tore them fill them in.
        RemotePointer local = pair.Replica.Translation!.Translate(new RemotePointer(pair.Primary.Region.RKey, image.PrimaryBase + (ulong)slotSize, (uint)slotSize));
        Assert.Equal(0UL, EntryCodec.ReadVersion(pair.Replica.Region.GetSpan(local.Address - pair.Replica.Region.BaseAddress, slotSize)));
    }

    [Fact]
    public void ApplySlabCopy_ImageOlderThanStreamedRecord_KeepsTheRecord()
    {
        using var pair = new Pair();
        pair.Primary.Write(Key(1), Value(1, 60));
        pair.Primary.Write(Key(2), Value(2, 60));
        (int attachLsn, IReadOnlyList<(int Slab, int SlotSize)> layout) = pair.Attach();
        Image old = pair.Copy(layout.Single());
        pair.Primary.Write(Key(1), Value(3, 60));

        pair.ApplyStream(attachLsn);
        SlabCopyResult result = pair.Apply(old);

        Assert.Equal(1, result.NotNewer);
        Assert.Equal(1, result.Applied);
        pair.AssertIdentical(manyDeltas: false);
    }

    [Fact]
    public void Apply_StreamRecordsOlderThanACopiedRelocation_KeepTheKeyAtItsNewestSlot()
    {
        // The key moves to a bigger slot; the copy of the new slot's slab overtakes the records of the move.
        // Applied in order, the old slot's record would point the index back at the old slot, and its
        // tombstone would then unindex the key.
        using var pair = new Pair();
        pair.Primary.Write(Key(9), Value(0, 10));
        (int attachLsn, _) = pair.Attach();
        pair.Primary.Write(Key(9), Value(1, 20));
        pair.Primary.Write(Key(9), Value(2, 900));
        Assert.True(pair.Primary.TryLookup(Key(9), out RemotePointer moved, out _));
        Image copied = pair.Copy(pair.Primary.GetClaimedSlabLayout().Single(s => s.SlotSize == (int)moved.Length));

        Assert.Equal(1, pair.Apply(copied).Applied);
        pair.ApplyStream(attachLsn);
        pair.AssertIdentical(manyDeltas: false);
    }

    [Fact]
    public void ApplySlabCopy_SlotReusedByAnotherKey_UnindexesTheKeyThatLeft()
    {
        using var pair = new Pair();
        (int attachLsn, _) = pair.Attach();
        pair.Primary.Write(Key(1), Value(0, 50));
        pair.Primary.Delete(Key(1));
        pair.Primary.Write(Key(2), Value(1, 50));

        // The replica learns key 1's slot from the stream, then the copy shows key 2 in it (the slot was reused).
        pair.ApplyStream(attachLsn, count: 1);
        Assert.True(pair.Replica.TryLookup(Key(1), out _, out _));
        Assert.Equal(1, pair.Apply(pair.Copy(pair.Primary.GetClaimedSlabLayout().Single())).Applied);
        Assert.False(pair.Replica.TryLookup(Key(1), out _, out _));
        Assert.Equal(1, pair.Replica.GetStats().Entries);

        pair.ApplyStream(attachLsn);
        pair.AssertIdentical(manyDeltas: false);
    }

    [Fact]
    public void ApplySlabCopy_BadArguments_AreRefused()
    {
        using var pair = new Pair();
        pair.Primary.Write(Key(1), Value(0, 50));
        (_, IReadOnlyList<(int Slab, int SlotSize)> layout) = pair.Attach();
        Image image = pair.Copy(layout.Single());
        uint rkey = pair.Primary.Region.RKey;

        Assert.Equal(ApplyStatus.SlotMismatch, pair.Replica.ApplySlabCopy(rkey, image.PrimaryBase, 33, image.Bytes).Status);
        Assert.Equal(ApplyStatus.BadEntry, pair.Replica.ApplySlabCopy(rkey, image.PrimaryBase, image.SlotSize, image.Bytes.AsSpan(1)).Status);
        Assert.Equal(ApplyStatus.BadAddress, pair.Replica.ApplySlabCopy(rkey + 1, image.PrimaryBase, image.SlotSize, image.Bytes).Status);
        Assert.Equal(ApplyStatus.BadAddress, pair.Replica.ApplySlabCopy(rkey, image.PrimaryBase + 16, image.SlotSize, image.Bytes).Status);
        Assert.Equal(ApplyStatus.NotReplica, pair.Primary.ApplySlabCopy(rkey, image.PrimaryBase, image.SlotSize, image.Bytes).Status);
        Assert.Equal(ApplyStatus.Applied, pair.Apply(image).Status);
        Assert.Equal(ApplyStatus.SlotMismatch, pair.Replica.ApplySlabCopy(rkey, image.PrimaryBase, image.SlotSize + 16, image.Bytes).Status);
    }

    private static byte[] Key(int i) => Encoding.UTF8.GetBytes($"key-{i}");

    private static byte[] Value(int seed, int length)
    {
        var value = new byte[length];
        new Random(seed).NextBytes(value);
        return value;
    }

    private sealed record Image(ulong PrimaryBase, int SlotSize, byte[] Bytes);

    private sealed record Record(RemotePointer Slot, ulong Version, EntryFlags Flags, byte[] Key, byte[] Value)
    {
        public SlotChange ToChange() => new(Slot, Version, Flags, Key, Value);
    }

    // Called under the primary's lock, so appends are ordered; readers take a snapshot.
    private sealed class RecordingSink : IChangeSink
    {
        private readonly List<Record> _records = [];

        public ulong Append(in SlotChange change)
        {
            lock (_records)
            {
                _records.Add(new Record(change.Slot, change.Version, change.Flags, change.Key.ToArray(), change.Value.ToArray()));
            }

            return 0;
        }

        public List<Record> Snapshot()
        {
            lock (_records)
            {
                return [.. _records];
            }
        }
    }

    private sealed class Pair : IDisposable
    {
        public Pair()
        {
            Primary = new StoreEngine(PrimaryOptions, changes: Changes);
            Replica = new StoreEngine(ReplicaOptions);
            Replica.MirrorPrimaryRegion(Primary.Region.RKey, Primary.Region.BaseAddress, Primary.Region.Length);
        }

        public RecordingSink Changes { get; } = new();

        public StoreEngine Primary { get; }

        public StoreEngine Replica { get; }

        /// <summary>Writes, overwrites (in place and relocating, across size classes) and deletes random keys.</summary>
        public void Workload(Random random, int operations)
        {
            for (int op = 0; op < operations; op++)
            {
                byte[] key = Key(random.Next(Keys));
                if (random.Next(6) == 0)
                {
                    Primary.Delete(key);
                    continue;
                }

                int length = random.Next(4) switch { 0 => random.Next(1, 40), 1 => random.Next(40, 200), 2 => random.Next(200, 700), _ => random.Next(700, 3000) };
                Assert.Equal(StoreStatus.Ok, Primary.Write(key, Value(random.Next(), length)).Status);
            }
        }

        /// <summary>The secondary attaches: the stream starts after this LSN, and these slabs are to be copied.</summary>
        public (int AttachLsn, IReadOnlyList<(int Slab, int SlotSize)> Layout) Attach() => (Changes.Snapshot().Count, Primary.GetClaimedSlabLayout());

        /// <summary>A one-sided READ of a whole slab: no lock, racing any writer.</summary>
        public Image Copy((int Slab, int SlotSize) slab)
        {
            ulong offset = (ulong)slab.Slab * (ulong)PrimaryOptions.SlabSize;
            return new Image(Primary.Region.AddressOf(offset), slab.SlotSize, Primary.Region.GetSpan(offset, PrimaryOptions.SlabSize).ToArray());
        }

        public SlabCopyResult Apply(Image image)
        {
            SlabCopyResult result = Replica.ApplySlabCopy(Primary.Region.RKey, image.PrimaryBase, image.SlotSize, image.Bytes);
            Assert.Equal(ApplyStatus.Applied, result.Status);
            return result;
        }

        public void ApplyStream(int fromLsn, int count = int.MaxValue)
        {
            foreach (Record r in Changes.Snapshot().Skip(fromLsn).Take(count))
            {
                Assert.True(Replica.Apply(r.ToChange()) is ApplyStatus.Applied or ApplyStatus.AlreadyApplied);
            }
        }

        /// <summary>The stream in LSN order and the images in the given order, merged at random.</summary>
        public void ApplyInterleaved(List<Image> images, int attachLsn, Random random)
        {
            List<Record> stream = Changes.Snapshot().Skip(attachLsn).ToList();
            int s = 0, i = 0;
            while (s < stream.Count || i < images.Count)
            {
                if (i < images.Count && (s == stream.Count || random.Next(stream.Count + images.Count) < images.Count))
                {
                    Apply(images[i++]);
                }
                else
                {
                    Assert.True(Replica.Apply(stream[s++].ToChange()) is ApplyStatus.Applied or ApplyStatus.AlreadyApplied);
                }
            }
        }

        /// <summary>Every key: present on both or neither, at translated addresses, with the same version and bytes.</summary>
        public void AssertIdentical(bool manyDeltas = true)
        {
            TranslationSnapshot translation = Replica.Translation!.Current;
            for (int i = 0; i < Keys; i++)
            {
                byte[] key = Key(i);
                bool onPrimary = Primary.TryLookup(key, out RemotePointer primary, out ulong version);
                Assert.Equal(onPrimary, Replica.TryLookup(key, out RemotePointer local, out ulong localVersion));
                if (!onPrimary)
                {
                    continue;
                }

                Assert.Equal(version, localVersion);
                Assert.Equal(translation.Translate(primary), local);
                Span<byte> primarySlot = Primary.Region.GetSpan(primary.Address - Primary.Region.BaseAddress, (int)primary.Length);
                Span<byte> replicaSlot = Replica.Region.GetSpan(local.Address - Replica.Region.BaseAddress, (int)local.Length);
                Assert.Equal(EntryStatus.Ok, EntryValidator.Validate(primarySlot, key, 0, out ValidatedEntry entry));
                int entrySize = entry.ValueOffset + entry.ValueLength;
                Assert.Equal(primarySlot[..entrySize].ToArray(), replicaSlot[..entrySize].ToArray());
            }

            Assert.Equal(Primary.GetStats().Entries, Replica.GetStats().Entries);
            Assert.Equal(Primary.GetStats().LastVersion, Replica.GetStats().LastVersion);
            Assert.True(!manyDeltas || translation.CountDistinctDeltas() >= 2, "the replica's slabs must sit at more than one delta");
        }

        public void Dispose()
        {
            Primary.Dispose();
            Replica.Dispose();
        }
    }
}
