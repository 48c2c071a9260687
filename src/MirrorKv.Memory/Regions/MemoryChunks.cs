using System.Numerics;
using System.Runtime.CompilerServices;

namespace MirrorKv.Memory;

/// <summary>
/// The registered memory of one store: regions (its chunks) registered one after another as the store fills,
/// addressed by one offset space in which chunk <c>i</c> covers <c>[StartOf(i), StartOf(i) + its length)</c>.
/// Each chunk is a real <see cref="MemoryRegion"/> with an rkey of its own, as an RDMA NIC needs (registration
/// pins memory, so a store registers what it uses, not what it may use one day); the store engine keeps
/// offsets in this space, so that its index and allocator do not care how many chunks there are.
/// </summary>
/// <remarks>
/// <para>Every chunk is a whole number of slabs and its base address a multiple of the slab size, so no slab
/// crosses a chunk, and a slab's base is its address rounded down to the slab size.</para>
/// <para>Chunks are added under the owner's lock and never removed while the store lives. Readers (the
/// engine under its lock, and the access tracker on the one-sided read path without it) take the current
/// <see cref="Layout"/>, an immutable snapshot, so a chunk being added is never half seen.</para>
/// </remarks>
public sealed class MemoryChunks : IDisposable
{
    private readonly Lock _writeLock = new();
    private readonly int _slabShift;
    private volatile Layout _layout = Layout.Empty;

    /// <summary>Creates an empty set for slabs of <paramref name="slabSize"/> bytes (a power of two).</summary>
    public MemoryChunks(int slabSize)
    {
        if (slabSize < 4096 || !BitOperations.IsPow2(slabSize))
        {
            throw new ArgumentOutOfRangeException(nameof(slabSize), slabSize, "The slab size must be a power of two of at least 4096 bytes.");
        }

        SlabSize = slabSize;
        _slabShift = BitOperations.Log2((uint)slabSize);
    }

    /// <summary>Bytes per slab; every chunk is a multiple of it.</summary>
    public int SlabSize { get; }

    /// <summary>Chunks registered.</summary>
    public int Count => _layout.Chunks.Length;

    /// <summary>Bytes of all chunks: the end of the offset space.</summary>
    public ulong Length => _layout.Length;

    /// <summary>The chunks' regions, in the order they were added.</summary>
    public IReadOnlyList<MemoryRegion> Regions => _layout.Regions;

    /// <summary>The region of chunk <paramref name="chunk"/>.</summary>
    public MemoryRegion this[int chunk] => _layout.Chunks[chunk].Region;

    /// <summary>Where chunk <paramref name="chunk"/> starts in the offset space.</summary>
    public ulong StartOf(int chunk) => _layout.Chunks[chunk].Start;

    /// <summary>The first slab (offset / slab size) of chunk <paramref name="chunk"/>.</summary>
    public int FirstSlabOf(int chunk) => (int)(_layout.Chunks[chunk].Start >> _slabShift);

    /// <summary>Slabs in chunk <paramref name="chunk"/>.</summary>
    public int SlabsOf(int chunk) => (int)(_layout.Chunks[chunk].Region.Length >> _slabShift);

    /// <summary>The chunk holding <paramref name="offset"/>, which must lie below <see cref="Length"/>.</summary>
    public int ChunkOf(ulong offset) => _layout.SlabChunk[offset >> _slabShift];

    /// <summary>
    /// Allocates (reading as zeros) and adds a chunk of <paramref name="length"/> bytes (a positive multiple of the slab
    /// size) at the end of the offset space, and returns its region. The caller registers it for remote access.
    /// </summary>
    public MemoryRegion Add(ulong length, AccessFlags access)
    {
        if (length == 0 || length % (ulong)SlabSize != 0 || length > uint.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"A chunk must be a positive multiple of the slab size ({SlabSize}) below 4 GiB.");
        }

        lock (_writeLock)
        {
            Layout current = _layout;
            ulong start = current.Length;
            if ((start + length) >> _slabShift > int.MaxValue)
            {
                throw new ArgumentOutOfRangeException(nameof(length), length, "The offset space would hold more slabs than an int counts.");
            }

            // rkeys are random; two chunks of one store must still differ.
            uint rkey;
            do
            {
                rkey = MemoryRegion.NewRKey();
            }
            while (current.ByRKey.Find(rkey) is not null);

            MemoryRegion region = MemoryRegion.Allocate(length, access, rkey, (ulong)SlabSize);
            _layout = current.With(new Chunk(current.Chunks.Length, region, start), (int)(length >> _slabShift));
            return region;
        }
    }

    /// <summary>Local access by offset, for the store engine: the span must lie inside one chunk.</summary>
    public Span<byte> GetSpan(ulong offset, int length)
    {
        Layout layout = _layout;
        ulong slab = offset >> _slabShift;
        if (slab >= (ulong)layout.SlabChunk.Length)
        {
            ThrowOutside(offset, length);
        }

        Chunk chunk = layout.Chunks[layout.SlabChunk[slab]];
        return chunk.Region.GetSpan(offset - chunk.Start, length);
    }

    /// <summary>The real virtual address of the byte at <paramref name="offset"/>.</summary>
    public ulong AddressOf(ulong offset)
    {
        Chunk chunk = ChunkAt(offset);
        return chunk.Region.BaseAddress + (offset - chunk.Start);
    }

    /// <summary>The remote pointer to <paramref name="length"/> bytes at <paramref name="offset"/>: its chunk's rkey and real address.</summary>
    public RemotePointer PointerAt(ulong offset, uint length)
    {
        Chunk chunk = ChunkAt(offset);
        return new RemotePointer(chunk.Region.RKey, chunk.Region.BaseAddress + (offset - chunk.Start), length);
    }

    /// <summary>
    /// The offset of <paramref name="address"/> in the chunk whose rkey is <paramref name="rkey"/>: false when no
    /// chunk has that rkey or the address lies outside it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryGetOffset(uint rkey, ulong address, out ulong offset)
    {
        Chunk? chunk = _layout.ByRKey.Find(rkey);
        ulong inChunk = address - (chunk?.Region.BaseAddress ?? 0);
        if (chunk is null || address < chunk.Region.BaseAddress || inChunk >= chunk.Region.Length)
        {
            offset = 0;
            return false;
        }

        offset = chunk.Start + inChunk;
        return true;
    }

    /// <summary>
    /// The chunk whose rkey is <paramref name="rkey"/> and the offset of <paramref name="address"/> inside it
    /// (unchecked against the chunk's length): false when no chunk has that rkey. One lookup, no lock.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryLocate(uint rkey, ulong address, out int chunk, out ulong inChunk)
    {
        Chunk? found = _layout.ByRKey.Find(rkey);
        chunk = found?.Index ?? -1;
        inChunk = found is null ? 0 : address - found.Region.BaseAddress;
        return found is not null;
    }

    /// <summary>The index of the chunk whose rkey is <paramref name="rkey"/>, or -1.</summary>
    public int IndexOf(uint rkey) => _layout.ByRKey.Find(rkey)?.Index ?? -1;

    /// <summary>Releases every chunk. Only once nothing can access them any more.</summary>
    public void Dispose()
    {
        foreach (Chunk chunk in _layout.Chunks)
        {
            chunk.Region.Dispose();
        }
    }

    private Chunk ChunkAt(ulong offset)
    {
        Layout layout = _layout;
        ulong slab = offset >> _slabShift;
        if (slab >= (ulong)layout.SlabChunk.Length)
        {
            ThrowOutside(offset, 0);
        }

        return layout.Chunks[layout.SlabChunk[slab]];
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void ThrowOutside(ulong offset, int length) =>
        throw new ArgumentOutOfRangeException(nameof(offset), $"[{offset}, {offset}+{length}) lies past the {Length} bytes of the store's chunks.");

    private sealed class Chunk(int index, MemoryRegion region, ulong start)
    {
        public int Index { get; } = index;

        public MemoryRegion Region { get; } = region;

        public ulong Start { get; } = start;
    }

    // Never changed after publication: adding a chunk publishes a new one.
    private sealed class Layout(Chunk[] chunks, int[] slabChunk, RKeyTable<Chunk> byRKey, ulong length)
    {
        public static Layout Empty { get; } = new([], [], RKeyTable<Chunk>.Empty, 0);

        public Chunk[] Chunks { get; } = chunks;

        // Per slab of the offset space: the chunk holding it.
        public int[] SlabChunk { get; } = slabChunk;

        public RKeyTable<Chunk> ByRKey { get; } = byRKey;

        public ulong Length { get; } = length;

        public MemoryRegion[] Regions { get; } = Array.ConvertAll(chunks, c => c.Region);

        public Layout With(Chunk chunk, int slabs)
        {
            Chunk[] chunks = [.. Chunks, chunk];
            int[] slabChunk = new int[SlabChunk.Length + slabs];
            SlabChunk.CopyTo(slabChunk, 0);
            slabChunk.AsSpan(SlabChunk.Length).Fill(chunk.Index);
            var entries = new (uint, Chunk)[chunks.Length];
            for (int i = 0; i < chunks.Length; i++)
            {
                entries[i] = (chunks[i].Region.RKey, chunks[i]);
            }

            return new Layout(chunks, slabChunk, RKeyTable<Chunk>.Build(entries), Length + chunk.Region.Length);
        }
    }
}
