using System.Buffers.Binary;
using System.Text;
using CsCheck;
using MirrorKv.Entries;
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
    private static readonly StoreOptions PrimaryOptions = new() { MaxMemory = 16UL << 20, SlabSize = 64 << 10 };
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
    public void ApplySlabCopy_WhileSlabsMoveBetweenClasses_EndsIdenticalToPrimary()
    {
        // Slabs listed for the copy are released and claimed by other classes before or after their image is
        // taken, and the releases reach the replica before or after the image is applied: a copy planned before
        // its slab's release must change nothing, whatever it holds.
        long moved = 0;
        Gen.Int[0, int.MaxValue].Sample(seed =>
        {
            using var pair = new Pair(new StoreOptions { MaxMemory = 32 << 10, SlabSize = 4096 });
            var random = new Random(seed);
            for (int phase = 0; phase < 4; phase++)
            {
                pair.MovingWorkload(random, phase, 40);
            }

            long movesBefore = pair.Primary.SlabsMoved;
            (int attachLsn, IReadOnlyList<(int Slab, int SlotSize)> layout) = pair.Attach();
            var images = new List<Image>();
            var pending = new Queue<(int Slab, int SlotSize)>(layout.OrderBy(_ => random.Next()));
            for (int phase = 4; phase < 10; phase++)
            {
                pair.MovingWorkload(random, phase, 40);
                if (pending.Count > 0)
                {
                    images.Add(pair.Copy(pending.Dequeue()));
                }
            }

            images.AddRange(pending.Select(pair.Copy));
            pair.ApplyInterleaved(images, attachLsn, random, asOnTheLink: true);
            pair.AssertIdentical(manyDeltas: false);
            Interlocked.Add(ref moved, pair.Primary.SlabsMoved - movesBefore);
        }, iter: 60);
        Assert.True(moved > 60, $"only {moved} slabs moved during the copies");
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
        RemotePointer local = pair.Replica.Translation!.Translate(new RemotePointer(pair.Replica.MirroredRKeyAt(image.PrimaryBase), image.PrimaryBase + (ulong)slotSize, (uint)slotSize));
        Assert.Equal(0UL, EntryCodec.ReadVersion(pair.Replica.SpanAt(local)));
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
        uint rkey = pair.Replica.MirroredRKeyAt(image.PrimaryBase);

        Assert.Equal(ApplyStatus.SlotMismatch, pair.Replica.ApplySlabCopy(rkey, image.PrimaryBase, 33, image.Bytes).Status);
        Assert.Equal(ApplyStatus.BadEntry, pair.Replica.ApplySlabCopy(rkey, image.PrimaryBase, image.SlotSize, image.Bytes.AsSpan(1)).Status);
        Assert.Equal(ApplyStatus.BadAddress, pair.Replica.ApplySlabCopy(rkey + 1, image.PrimaryBase, image.SlotSize, image.Bytes).Status);
        Assert.Equal(ApplyStatus.BadAddress, pair.Replica.ApplySlabCopy(rkey, image.PrimaryBase + 16, image.SlotSize, image.Bytes).Status);
        Assert.Equal(ApplyStatus.NotSecondary, pair.Primary.ApplySlabCopy(rkey, image.PrimaryBase, image.SlotSize, image.Bytes).Status);
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

    // TakenAt: records in the stream when the image was read.
    private sealed record Image(ulong PrimaryBase, int SlotSize, byte[] Bytes, int TakenAt = 0);

    private sealed record Record(RemotePointer Slot, ulong Version, EntryFlags Flags, byte[] Key, byte[] Value)
    {
        public SlotChange ToChange() => new(Slot, Version, Flags, Key, Value);

        /// <summary>Flags standing for a region record (the stream's flags 8): the slot is a whole new chunk.</summary>
        public const EntryFlags RegionFlag = (EntryFlags)8;

        /// <summary>A slab release is recorded with no flags: the slot is the whole slab.</summary>
        public ApplyStatus ApplyTo(StoreEngine replica) => Flags switch
        {
            EntryFlags.None => replica.ApplySlabRelease(Slot),
            RegionFlag => replica.ApplyRegion(Slot),
            _ => replica.Apply(ToChange()),
        };
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

        public void AppendSlabRelease(in RemotePointer slab)
        {
            lock (_records)
            {
                _records.Add(new Record(slab, 0, EntryFlags.None, [], []));
            }
        }

        public void AppendRegion(in RemotePointer region)
        {
            lock (_records)
            {
                _records.Add(new Record(region, 0, Record.RegionFlag, [], []));
            }
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
        public Pair(StoreOptions? primary = null)
        {
            _options = primary ?? PrimaryOptions;
            Primary = new StoreEngine(_options, changes: Changes);
            Replica = new StoreEngine(_options with { SlabOrder = SlabOrder.Descending });
            MirrorRegions();
        }

        // What the HELLO reply tells a joining secondary: every chunk the primary holds now (again: a no-op).
        private void MirrorRegions()
        {
            foreach (MemoryRegion region in Primary.Regions)
            {
                Replica.MirrorPrimaryRegion(region.RKey, region.BaseAddress, region.Length);
            }
        }

        private readonly StoreOptions _options;

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

        /// <summary>
        /// Phases of one size range each (by <paramref name="phase"/>), most of whose keys are deleted at the end,
        /// so that slabs empty out and move between classes; a write may find the store full.
        /// </summary>
        public void MovingWorkload(Random random, int phase, int operations)
        {
            for (int op = 0; op < operations; op++)
            {
                int length = (phase % 3) switch { 0 => random.Next(1, 40), 1 => random.Next(200, 400), _ => random.Next(900, 1800) };
                StoreStatus status = Primary.Write(Key(random.Next(Keys)), Value(random.Next(), length)).Status;
                Assert.True(status is StoreStatus.Ok or StoreStatus.OutOfMemory);
            }

            for (int k = 0; k < Keys; k++)
            {
                if (random.Next(8) != 0)
                {
                    Primary.Delete(Key(k));
                }
            }
        }

        /// <summary>The secondary attaches: the stream starts after this LSN, and these slabs are to be copied.</summary>
        public (int AttachLsn, IReadOnlyList<(int Slab, int SlotSize)> Layout) Attach()
        {
            int lsn = Changes.Snapshot().Count;
            MirrorRegions();
            return (lsn, Primary.GetClaimedSlabLayout());
        }

        /// <summary>A one-sided READ of a whole slab: no lock, racing any writer.</summary>
        public Image Copy((int Slab, int SlotSize) slab)
        {
            ulong offset = (ulong)slab.Slab * (ulong)_options.SlabSize;
            return new Image(Primary.Memory.AddressOf(offset), slab.SlotSize, Primary.Memory.GetSpan(offset, _options.SlabSize).ToArray(), Changes.Snapshot().Count);
        }

        public SlabCopyResult Apply(Image image)
        {
            // The region record of the slab's chunk was posted before the slab was claimed, so on the peer link it
            // reaches the secondary before the READ reply of any copy of it, whatever else the copy overtakes.
            MirrorRegions();
            SlabCopyResult result = Replica.ApplySlabCopy(Replica.MirroredRKeyAt(image.PrimaryBase), image.PrimaryBase, image.SlotSize, image.Bytes);
            Assert.Equal(ApplyStatus.Applied, result.Status);
            return result;
        }

        public void ApplyStream(int fromLsn, int count = int.MaxValue)
        {
            foreach (Record r in Changes.Snapshot().Skip(fromLsn).Take(count))
            {
                Assert.True(r.ApplyTo(Replica) is ApplyStatus.Applied or ApplyStatus.AlreadyApplied);
            }
        }

        /// <summary>
        /// The stream in LSN order and the images in the given order, merged at random. With
        /// <paramref name="asOnTheLink"/>, an image is applied only after the records written before it was read,
        /// as on the peer link, where the primary posts the READ reply after every record it posted before.
        /// </summary>
        public void ApplyInterleaved(List<Image> images, int attachLsn, Random random, bool asOnTheLink = false)
        {
            List<Record> stream = Changes.Snapshot().Skip(attachLsn).ToList();
            int s = 0, i = 0;
            while (s < stream.Count || i < images.Count)
            {
                bool imageMayGo = i < images.Count && (!asOnTheLink || images[i].TakenAt - attachLsn <= s);
                if (imageMayGo && (s == stream.Count || random.Next(stream.Count + images.Count) < images.Count))
                {
                    Apply(images[i++]);
                }
                else
                {
                    Record r = stream[s++];
                    ApplyStatus status = r.ApplyTo(Replica);
                    Assert.True(status is ApplyStatus.Applied or ApplyStatus.AlreadyApplied, $"record {s - 1} after the attach ({r.Flags} at {r.Slot}): {status}");
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
                Span<byte> primarySlot = Primary.SpanAt(primary);
                Span<byte> replicaSlot = Replica.SpanAt(local);
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
