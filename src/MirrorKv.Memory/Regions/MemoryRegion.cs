using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MirrorKv.Memory;

/// <summary>
/// A block of native, page-aligned memory registered for remote access, as an RDMA memory region.
/// </summary>
/// <remarks>
/// The memory reads as zeros from registration on, so a remote reader can never see bytes that some earlier
/// owner of the pages left behind. On Linux it is an anonymous mapping that the kernel zero-fills page by page
/// as it is first written, rather than committed up front as ibv_reg_mr pins every page: registering a chunk in
/// the middle of a write must not stall the event loop for as long as faulting in the whole chunk takes (see
/// <see cref="AnonymousPages"/>); elsewhere it is allocated and cleared at registration. The block never
/// moves, so <see cref="BaseAddress"/> is a real virtual address for as long as the region lives.
/// Dispose only once nothing can access the region any more (the adapter has stopped); accesses
/// after disposal are refused, but a reader already inside a span would read freed memory.
/// </remarks>
public sealed unsafe class MemoryRegion : IDisposable
{
    private byte* _base;

    // True when the memory came from AnonymousPages (munmap), false for NativeMemory (free).
    private readonly bool _mapped;

    private MemoryRegion(byte* basePointer, ulong length, uint rkey, AccessFlags access, bool mapped)
    {
        _base = basePointer;
        _mapped = mapped;
        Length = length;
        RKey = rkey;
        Access = access;
        BaseAddress = (ulong)basePointer;
    }

    /// <summary>The remote key: random for each region incarnation, never 0.</summary>
    public uint RKey { get; }

    /// <summary>The real virtual address of the first byte.</summary>
    public ulong BaseAddress { get; }

    /// <summary>Length in bytes; a multiple of the system page size.</summary>
    public ulong Length { get; }

    /// <summary>What remote parties may do with this region (a caller's grant narrows it further).</summary>
    public AccessFlags Access { get; }

    /// <summary>True once the memory has been released.</summary>
    public bool IsDisposed => _base == null;

    /// <summary>Allocates and registers a region of <paramref name="length"/> bytes that reads as zeros.</summary>
    /// <param name="length">Bytes; must be a positive multiple of <see cref="Environment.SystemPageSize"/>.</param>
    /// <param name="access">Remote access the region allows.</param>
    /// <param name="rkey">The rkey to use, or 0 for a fresh random one (the normal case).</param>
    /// <param name="alignment">
    /// The base address is a multiple of this (a power of two; 0 for the default). A store aligns its chunks to
    /// the slab size, so that every slab base is a multiple of it, as docs/protocol.md promises clients.
    /// </param>
    public static MemoryRegion Allocate(ulong length, AccessFlags access, uint rkey = 0, ulong alignment = 0)
    {
        ulong page = (ulong)Environment.SystemPageSize;
        if (length == 0 || length % page != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"A region's length must be a positive multiple of the page size ({page} bytes).");
        }

        if (alignment != 0 && !ulong.IsPow2(alignment))
        {
            throw new ArgumentOutOfRangeException(nameof(alignment), alignment, "The alignment must be a power of two.");
        }

        // Large regions are aligned to the huge page size so that every 2 MiB of them can be one TLB entry.
        alignment = Math.Max(alignment, length >= HugePages.Size ? HugePages.Size : page);
        byte* basePointer = AnonymousPages.IsSupported ? AnonymousPages.TryMap(length, alignment) : null;
        bool mapped = basePointer != null;
        if (!mapped)
        {
            basePointer = (byte*)NativeMemory.AlignedAlloc((nuint)length, (nuint)alignment);
        }

        HugePages.Advise(basePointer, length);
        if (!mapped)
        {
            // Heap memory may hold an earlier allocation's bytes; mapped pages are the kernel's zeros.
            NativeMemory.Clear(basePointer, (nuint)length);
        }

        return new MemoryRegion(basePointer, length, rkey != 0 ? rkey : NewRKey(), access, mapped);
    }

    /// <summary>A random, non-zero rkey, so that a pointer from an earlier incarnation is refused.</summary>
    public static uint NewRKey()
    {
        Span<byte> bytes = stackalloc byte[4];
        uint rkey;
        do
        {
            SecureRandom.Fill(bytes);
            rkey = BitConverter.ToUInt32(bytes);
        }
        while (rkey == 0);
        return rkey;
    }

    /// <summary>
    /// Checks <c>[address, address + length)</c> against this region and <paramref name="requested"/>
    /// access against both the region's flags and the caller's <paramref name="granted"/> flags.
    /// The rkey is not looked at here: see <see cref="RegionRegistry.Check"/>, the one entry point
    /// for remote accesses.
    /// </summary>
    public AccessStatus CheckRange(ulong address, ulong length, AccessFlags requested, AccessFlags granted)
    {
        AccessStatus bounds = CheckBounds(BaseAddress, Length, address, length);
        if (bounds != AccessStatus.Ok)
        {
            return bounds;
        }

        AccessFlags allowed = Access & granted;
        if ((requested & AccessFlags.RemoteRead) != 0 && (allowed & AccessFlags.RemoteRead) == 0)
        {
            return AccessStatus.ReadNotAllowed;
        }

        if ((requested & AccessFlags.RemoteWrite) != 0 && (allowed & AccessFlags.RemoteWrite) == 0)
        {
            return AccessStatus.WriteNotAllowed;
        }

        return IsDisposed ? AccessStatus.UnknownRKey : AccessStatus.Ok;
    }

    /// <summary>
    /// The bounds part of the access check, for any region <c>[regionBase, regionBase + regionLength)</c>, in
    /// the order the wire protocol documents: zero length, before the region, address + length overflowing
    /// 64 bits, past the end. Shared with the secondary's check of primary pointers, so that a FAILOVER_READ
    /// refuses a pointer with the status the primary's READ would.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static AccessStatus CheckBounds(ulong regionBase, ulong regionLength, ulong address, ulong length)
    {
        if (length == 0)
        {
            return AccessStatus.ZeroLength;
        }

        if (address < regionBase)
        {
            return AccessStatus.BeforeRegion;
        }

        if (address > ulong.MaxValue - length)
        {
            return AccessStatus.LengthOverflow;
        }

        // Subtract first so that the comparison itself cannot overflow.
        ulong offset = address - regionBase;
        return offset >= regionLength || length > regionLength - offset ? AccessStatus.PastEnd : AccessStatus.Ok;
    }

    /// <summary>
    /// Local access by offset, for the store engine that owns the region. Bounds are checked; access
    /// flags are not, since they govern remote parties only.
    /// </summary>
    public Span<byte> GetSpan(ulong offset, int length)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (length < 0 || offset > Length || (ulong)length > Length - offset)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"[{offset}, {offset}+{length}) is outside the region of {Length} bytes.");
        }

        return new Span<byte>(_base + offset, length);
    }

    /// <summary>Span over an address that <see cref="CheckRange"/> has already accepted.</summary>
    internal Span<byte> SpanAtCheckedAddress(ulong address, int length) => new(_base + (address - BaseAddress), length);

    /// <summary>The address of the byte at <paramref name="offset"/>.</summary>
    public ulong AddressOf(ulong offset) => BaseAddress + offset;

    /// <summary>Releases the native memory.</summary>
    public void Dispose()
    {
        byte* p = _base;
        if (p != null)
        {
            _base = null;
            if (_mapped)
            {
                AnonymousPages.Unmap(p, Length);
            }
            else
            {
                NativeMemory.AlignedFree(p);
            }
        }
    }

    /// <summary>Prefetches up to four cache lines from an address already checked to lie in this region.</summary>
    internal void Prefetch(ulong address, ulong length)
    {
        if (!System.Runtime.Intrinsics.X86.Sse.IsSupported)
        {
            return;
        }

        byte* first = _base + (address - BaseAddress);
        byte* end = first + Math.Min(length, 256UL);
        for (byte* line = first; line < end; line += 64)
        {
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(line);
        }
    }
}
