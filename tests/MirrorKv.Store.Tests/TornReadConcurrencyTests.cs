using System.Buffers.Binary;
using System.Diagnostics;
using MirrorKv.Entries;
using MirrorKv.Memory;

namespace MirrorKv.Store.Tests;

/// <summary>
/// Readers copy raw slot bytes, with no lock, while writers update, relocate, delete and rewrite the same
/// keys (so slots are reused by other keys): no torn, foreign or stale-after-ack entry is ever accepted.
/// </summary>
public class TornReadConcurrencyTests
{
    private const int Keys = 24;

    [Fact]
    public void ConcurrentWritersAndRawReaders_NeverAcceptBadEntry()
    {
        var registry = new RegionRegistry();
        using var store = new StoreEngine(new StoreOptions { MaxMemory = 8UL << 20, SlabSize = 64 << 10 }, registry: registry);
        var published = new Published?[Keys];
        var counts = new long[Enum.GetValues<EntryStatus>().Length];
        long accepted = 0, bad = 0;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));

        Thread[] writers = Enumerable.Range(0, 2).Select(w => new Thread(() =>
        {
            var random = new Random(w);
            int generation = 0;
            while (!stop.IsCancellationRequested)
            {
                int k = (random.Next(Keys / 2) * 2) + w;
                generation++;
                if (random.Next(10) == 0)
                {
                    store.Delete(Key(k));
                    Volatile.Write(ref published[k], null);
                    continue;
                }

                byte[] value = Value(k, generation, random.Next(4) == 0 ? random.Next(300, 900) : random.Next(8, 120));
                StoreWriteResult r = store.Write(Key(k), value);
                Volatile.Write(ref published[k], new Published(r.Pointer, r.Version));
            }
        })).ToArray();

        Thread[] readers = Enumerable.Range(0, 2).Select(rd => new Thread(() =>
        {
            var random = new Random(100 + rd);
            var copy = new byte[1024];
            while (!stop.IsCancellationRequested)
            {
                int k = random.Next(Keys);
                Published? p = Volatile.Read(ref published[k]);
                if (p is null)
                {
                    continue;
                }

                Span<byte> slot = registry.ResolveOrThrow(p.Pointer, AccessFlags.RemoteRead, AccessFlags.RemoteRead);
                slot.CopyTo(copy);
                EntryStatus status = EntryValidator.Validate(copy.AsSpan(0, slot.Length), Key(k), p.Version, out ValidatedEntry entry);
                Interlocked.Increment(ref counts[(int)status]);
                if (status == EntryStatus.Ok)
                {
                    Interlocked.Increment(ref accepted);
                    if (!IsWholeValueOf(entry.ValueOf(copy), k))
                    {
                        Interlocked.Increment(ref bad);
                    }
                }
            }
        })).ToArray();

        foreach (Thread t in writers.Concat(readers))
        {
            t.Start();
        }

        foreach (Thread t in writers.Concat(readers))
        {
            t.Join();
        }

        TestContext.Current.TestOutputHelper?.WriteLine(string.Join(", ", Enum.GetValues<EntryStatus>().Select(s => $"{s} {counts[(int)s]:N0}")));
        Assert.Equal(0, bad);
        Assert.True(accepted > 1000, $"only {accepted} reads were accepted");
        Assert.True(counts[(int)EntryStatus.Deleted] + counts[(int)EntryStatus.ForeignKey] + counts[(int)EntryStatus.Stale] > 0, "the race between readers and relocating writers was never exercised");
    }

    [Fact]
    public void Checker_ValidatorWithoutChecksum_AcceptsATornCopy()
    {
        // The same judgement as the test above, applied with a broken validator to a copy that mixes two
        // writes: the broken one accepts a value that was never written, the real one refuses it.
        var slot = new byte[256];
        EntryCodec.Write(slot, 10, Key(1), Value(1, 1, 100), EntryFlags.Live);
        byte[] older = (byte[])slot.Clone();
        EntryCodec.Write(slot, 12, Key(1), Value(1, 2, 100), EntryFlags.Live);
        byte[] torn = (byte[])slot.Clone();
        Array.Copy(older, 0, torn, 0, 80);

        Assert.NotEqual(EntryStatus.Ok, EntryValidator.Validate(torn, Key(1), 0, out _));
        int valueLength = BinaryPrimitives.ReadInt32LittleEndian(torn.AsSpan(EntryLayout.ValueLengthOffset));
        ReadOnlySpan<byte> unchecked_ = torn.AsSpan(EntryLayout.HeaderSize + Key(1).Length, valueLength);
        Assert.False(IsWholeValueOf(unchecked_, 1));
    }

    private static byte[] Key(int k) => BitConverter.GetBytes(0x4B45590000 + k);

    private static byte[] Value(int k, int generation, int length)
    {
        var value = new byte[length];
        BinaryPrimitives.WriteInt32LittleEndian(value, k);
        BinaryPrimitives.WriteInt32LittleEndian(value.AsSpan(4), generation);
        for (int i = 8; i < length; i++)
        {
            value[i] = (byte)((k * 131) + (generation * 17) + i);
        }

        return value;
    }

    private static bool IsWholeValueOf(ReadOnlySpan<byte> value, int k) =>
        value.Length >= 8 && BinaryPrimitives.ReadInt32LittleEndian(value) == k
        && value.SequenceEqual(Value(k, BinaryPrimitives.ReadInt32LittleEndian(value[4..]), value.Length));

    private sealed record Published(RemotePointer Pointer, ulong Version);
}
