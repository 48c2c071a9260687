using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using MirrorKv.Entries;
using MirrorKv.Memory;
using MirrorKv.Store;

namespace MirrorKv.Cli.Demo;

/// <summary>
/// The main job until the node pair lands: loads a store, reads every key one-sided (raw slot copies,
/// validated), updates in place and by relocation, deletes, shows what old pointers see, then mirrors the
/// claimed slabs into a second region in the opposite slab order and reads every key there through the
/// per-slab translation. Exits 1 if any read returned a wrong value.
/// </summary>
internal sealed class StoreDemo(StoreDemoOptions options, TextWriter output)
{
    private const int KeyLength = 16;
    private const int RelocatedValueSize = 400;

    private readonly byte[] _readBuffer = new byte[1 << 20];
    private readonly Dictionary<EntryStatus, int> _staleReads = [];
    private long _badReads;

    public int Run()
    {
        int n = options.Keys;
        var registry = new RegionRegistry();
        using var store = new StoreEngine(StoreOptions.Default with { MaxMemory = MaxMemoryFor(n, options.ValueSize) }, registry: registry);
        Say($"MirrorKv store demo: one store engine, one-sided reads, and a mirror read through slab translation.");
        Say($"memory    up to {store.Options.MaxMemory >> 20} MiB, registered in chunks as the store fills; {store.Options.SlabSize >> 10} KiB slabs");

        var pointers = new RemotePointer[n];
        var versions = new ulong[n];
        var generations = new int[n];
        var sizes = new int[n];
        var live = new bool[n];
        Span<byte> key = stackalloc byte[KeyLength];
        byte[] value = new byte[Math.Max(options.ValueSize, RelocatedValueSize)];

        var clock = Stopwatch.StartNew();
        for (int i = 0; i < n; i++)
        {
            sizes[i] = options.ValueSize;
            Record(store.Write(KeyOf(i, key), FillValue(i, 0, value.AsSpan(0, sizes[i]))), i, pointers, versions);
            live[i] = true;
        }

        Step("write", n, $"keys ({KeyLength} B key, {options.ValueSize} B value)", clock);

        clock.Restart();
        for (int i = 0; i < n; i++)
        {
            Check(registry, pointers[i], i, generations[i], sizes[i], versions[i], key);
        }

        Step("read", n, "one-sided reads (copy the slot, validate version, key, checksum)", clock);

        var random = new Random(options.Seed);
        var stalePointers = new List<(int Key, RemotePointer Pointer)>();
        int inPlace = 0, relocated = 0, deleted = 0;
        clock.Restart();
        for (int round = 0; round < n / 5; round++)
        {
            int i = random.Next(n);
            if (!live[i])
            {
                continue;
            }

            int choice = random.Next(4);
            if (choice == 0)
            {
                stalePointers.Add((i, pointers[i]));
                StoreWriteResult r = store.Delete(KeyOf(i, key));
                Expect(r.Kind == WriteKind.Deleted, "delete");
                live[i] = false;
                deleted++;
                continue;
            }

            generations[i]++;
            sizes[i] = choice == 1 ? RelocatedValueSize : options.ValueSize;
            RemotePointer before = pointers[i];
            StoreWriteResult w = store.Write(KeyOf(i, key), FillValue(i, generations[i], value.AsSpan(0, sizes[i])));
            Record(w, i, pointers, versions);
            if (w.Kind == WriteKind.Relocated)
            {
                stalePointers.Add((i, before));
                relocated++;
            }
            else
            {
                inPlace++;
            }
        }

        Step("update", inPlace + relocated + deleted, $"changes: {inPlace} in place, {relocated} relocated, {deleted} deleted", clock);

        clock.Restart();
        int recovered = 0;
        foreach ((int i, RemotePointer old) in stalePointers)
        {
            EntryStatus status = ReadRaw(registry, old, KeyOf(i, key), versions[i], out _);
            _staleReads[status] = _staleReads.GetValueOrDefault(status) + 1;
            if (status == EntryStatus.Ok && pointers[i] != old)
            {
                _badReads++;
            }

            if (live[i] && store.TryLookup(KeyOf(i, key), out RemotePointer fresh, out _))
            {
                Check(registry, fresh, i, generations[i], sizes[i], versions[i], key);
                recovered++;
            }
        }

        Step("old ptrs", stalePointers.Count, $"reads through pointers from before the change: {Describe(_staleReads)}; {recovered} live keys found again by LOOKUP", clock);

        clock.Restart();
        int liveCount = 0;
        for (int i = 0; i < n; i++)
        {
            if (live[i])
            {
                Check(registry, pointers[i], i, generations[i], sizes[i], versions[i], key);
                liveCount++;
            }
        }

        Step("read", liveCount, "one-sided reads of every live key after the changes", clock);

        clock.Restart();
        using var mirror = new MemoryChunks(store.Options.SlabSize);
        var mirrorRegistry = new RegionRegistry();
        TranslationSnapshot translation = MirrorSlabs(store, mirror, mirrorRegistry);
        int translatedReads = 0, untranslatedRefused = 0;
        for (int i = 0; i < n; i++)
        {
            if (!live[i])
            {
                continue;
            }

            RemotePointer local = translation.Translate(pointers[i]);
            Check(mirrorRegistry, local, i, generations[i], sizes[i], versions[i], key);
            translatedReads++;
            if (mirrorRegistry.Check(pointers[i], AccessFlags.RemoteRead, AccessFlags.RemoteRead, out _) != AccessStatus.Ok)
            {
                untranslatedRefused++;
            }
        }

        Step("mirror", translatedReads, $"reads at the mirror through translated pointers; {translation.CountDistinctDeltas()} distinct slab deltas; {untranslatedRefused} untranslated pointers refused there", clock);

        StoreStats stats = store.GetStats();
        long payload = (long)stats.Entries * KeyLength;
        for (int i = 0; i < n; i++)
        {
            payload += live[i] ? sizes[i] : 0;
        }

        double perEntry = stats.Entries == 0 ? 0 : (double)(stats.UsedBytes - payload) / stats.Entries;
        Say($"memory    {stats.Entries:N0} entries in {stats.ClaimedSlabs} slabs of {stats.Chunks} chunks ({stats.ChunkBytes >> 20} MiB registered) + {stats.IndexBytes >> 10} KiB index: {perEntry:F1} B per entry beyond key and value");
        Say($"result    {_badReads} bad reads");
        return _badReads == 0 ? 0 : 1;
    }

    // Mirrors what the secondary will do: each primary chunk gets a chunk of the same length, and each claimed
    // primary slab lands in a slab of that chunk taken from the top down.
    private static TranslationSnapshot MirrorSlabs(StoreEngine store, MemoryChunks mirror, RegionRegistry mirrorRegistry)
    {
        int slabSize = store.Options.SlabSize;
        var table = new TranslationTable(slabSize);
        var nextFree = new int[store.Regions.Count];
        for (int i = 0; i < store.Regions.Count; i++)
        {
            MemoryRegion primary = store.Regions[i];
            MemoryRegion local = mirror.Add(primary.Length, AccessFlags.RemoteRead);
            mirrorRegistry.Register(local);
            table.MapRegion(primary.RKey, primary.BaseAddress, primary.Length, local.RKey);
            nextFree[i] = mirror.FirstSlabOf(i) + mirror.SlabsOf(i) - 1;
        }

        foreach (int slab in store.GetClaimedSlabs())
        {
            ulong primaryOffset = (ulong)slab * (ulong)slabSize;
            int chunk = store.Memory.ChunkOf(primaryOffset);
            ulong localOffset = (ulong)nextFree[chunk]-- * (ulong)slabSize;
            store.Memory.GetSpan(primaryOffset, slabSize).CopyTo(mirror.GetSpan(localOffset, slabSize));
            RemotePointer primarySlab = store.Memory.PointerAt(primaryOffset, (uint)slabSize);
            table.MapSlab(primarySlab.RKey, primarySlab.Address, mirror.AddressOf(localOffset));
        }

        return table.Current;
    }

    private void Check(RegionRegistry registry, RemotePointer pointer, int i, int generation, int size, ulong version, Span<byte> key)
    {
        EntryStatus status = ReadRaw(registry, pointer, KeyOf(i, key), version, out ValidatedEntry entry);
        Span<byte> expected = stackalloc byte[size];
        FillValue(i, generation, expected);
        if (status != EntryStatus.Ok || !entry.ValueOf(_readBuffer).SequenceEqual(expected))
        {
            _badReads++;
        }
    }

    private EntryStatus ReadRaw(RegionRegistry registry, RemotePointer pointer, ReadOnlySpan<byte> key, ulong minVersion, out ValidatedEntry entry)
    {
        Span<byte> slot = registry.ResolveOrThrow(pointer, AccessFlags.RemoteRead, AccessFlags.RemoteRead);
        slot.CopyTo(_readBuffer);
        return EntryValidator.Validate(_readBuffer.AsSpan(0, slot.Length), key, minVersion, out entry);
    }

    private void Record(StoreWriteResult result, int i, RemotePointer[] pointers, ulong[] versions)
    {
        Expect(result.IsOk, $"write of key {i}: {result.Status}");
        pointers[i] = result.Pointer;
        versions[i] = result.Version;
    }

    private static Span<byte> KeyOf(int i, Span<byte> key)
    {
        key[0] = (byte)'k';
        i.TryFormat(key[1..], out _, "D15", CultureInfo.InvariantCulture);
        return key;
    }

    private static Span<byte> FillValue(int i, int generation, Span<byte> value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(value, i);
        BinaryPrimitives.WriteInt32LittleEndian(value[4..], generation);
        uint x = (uint)((i * 2654435761L) ^ (generation * 40503L)) | 1;
        for (int b = 8; b < value.Length; b++)
        {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            value[b] = (byte)x;
        }

        return value;
    }

    // Room for every key at its largest size plus one partly filled slab per size class.
    private static ulong MaxMemoryFor(int keys, int valueSize)
    {
        const ulong slab = 1 << 20;
        ulong perKey = (ulong)EntryLayout.EntrySize(KeyLength, Math.Max(valueSize, RelocatedValueSize)) * 9 / 8;
        ulong needed = (((ulong)keys * perKey) + (128 * slab) + slab - 1) / slab * slab;
        return Math.Max(StoreOptions.Default.MaxMemory, needed + (ulong)KeyIndex.BytesFor(keys));
    }

    private static string Describe(Dictionary<EntryStatus, int> counts) =>
        string.Join(", ", counts.OrderBy(c => c.Key).Select(c => $"{c.Value} {c.Key}"));

    private static void Expect(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException($"Store demo failed: {what}.");
        }
    }

    private void Step(string name, int count, string what, Stopwatch clock)
    {
        double seconds = clock.Elapsed.TotalSeconds;
        Say($"{name,-9} {count,9:N0} {what} in {seconds * 1000:F0} ms ({count / Math.Max(seconds, 1e-9) / 1e6:F2} M/s)");
    }

    private void Say(string line) => output.WriteLine(line);
}
