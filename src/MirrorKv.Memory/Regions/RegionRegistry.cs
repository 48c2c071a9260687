namespace MirrorKv.Memory;

/// <summary>
/// The regions a node has registered, found by rkey. <see cref="Check"/> is the single check that
/// every remote access goes through; <see cref="Resolve"/> is the only way to turn a remote pointer
/// into memory.
/// </summary>
/// <remarks>
/// Registration is rare and copies the array; lookups read an immutable array without a lock, so
/// the one-sided read path never blocks on registration. A node has a handful of regions, so a
/// linear scan beats a dictionary.
/// </remarks>
public sealed class RegionRegistry
{
    private readonly Lock _writeLock = new();
    private volatile MemoryRegion[] _regions = [];

    /// <summary>The registered regions, in registration order.</summary>
    public IReadOnlyList<MemoryRegion> Regions => _regions;

    /// <summary>Registers a region. Its rkey must be unique among the registered regions.</summary>
    public void Register(MemoryRegion region)
    {
        ArgumentNullException.ThrowIfNull(region);
        lock (_writeLock)
        {
            MemoryRegion[] current = _regions;
            foreach (MemoryRegion r in current)
            {
                if (r.RKey == region.RKey)
                {
                    throw new ArgumentException($"rkey 0x{region.RKey:x8} is already registered.", nameof(region));
                }
            }

            _regions = [.. current, region];
        }
    }

    /// <summary>Removes a region; later accesses with its rkey get <see cref="AccessStatus.UnknownRKey"/>.</summary>
    public bool Deregister(uint rkey)
    {
        lock (_writeLock)
        {
            MemoryRegion[] current = _regions;
            int index = Array.FindIndex(current, r => r.RKey == rkey);
            if (index < 0)
            {
                return false;
            }

            _regions = [.. current.AsSpan(0, index), .. current.AsSpan(index + 1)];
            return true;
        }
    }

    /// <summary>Finds the region with this rkey, or null.</summary>
    public MemoryRegion? Find(uint rkey)
    {
        foreach (MemoryRegion r in _regions)
        {
            if (r.RKey == rkey)
            {
                return r;
            }
        }

        return null;
    }

    /// <summary>
    /// The access check: the rkey must name a region of this incarnation, the range must lie inside it,
    /// and both the region and the caller's <paramref name="granted"/> flags must allow <paramref name="requested"/>.
    /// </summary>
    public AccessStatus Check(in RemotePointer pointer, AccessFlags requested, AccessFlags granted, out MemoryRegion? region)
    {
        region = pointer.RKey == 0 ? null : Find(pointer.RKey);
        if (region is null)
        {
            return AccessStatus.UnknownRKey;
        }

        return region.CheckRange(pointer.Address, pointer.Length, requested, granted);
    }

    /// <summary>Runs <see cref="Check"/> and, when it passes, gives the bytes the pointer names.</summary>
    public AccessStatus Resolve(in RemotePointer pointer, AccessFlags requested, AccessFlags granted, out Span<byte> bytes)
    {
        AccessStatus status = Check(pointer, requested, granted, out MemoryRegion? region);
        if (status == AccessStatus.Ok && pointer.Length > int.MaxValue)
        {
            status = AccessStatus.TooLong;
        }

        bytes = status == AccessStatus.Ok ? region!.SpanAtCheckedAddress(pointer.Address, (int)pointer.Length) : default;
        return status;
    }

    /// <summary>As <see cref="Resolve"/>, throwing <see cref="RemoteAccessException"/> when the check fails.</summary>
    public Span<byte> ResolveOrThrow(in RemotePointer pointer, AccessFlags requested, AccessFlags granted)
    {
        AccessStatus status = Resolve(pointer, requested, granted, out Span<byte> bytes);
        if (status != AccessStatus.Ok)
        {
            RemoteAccessException.Throw(status, pointer);
        }

        return bytes;
    }

    /// <summary>
    /// Starts loading the first cache lines of a pointer's target when the access would pass the check, so that
    /// a batch of READs overlaps its cache misses instead of taking them one after another. A hint only: it
    /// reads nothing, and a pointer that would be refused is ignored here and refused when it is served.
    /// </summary>
    public void Prefetch(in RemotePointer pointer, AccessFlags granted)
    {
        if (Check(pointer, AccessFlags.RemoteRead, granted, out MemoryRegion? region) == AccessStatus.Ok)
        {
            region!.Prefetch(pointer.Address, pointer.Length);
        }
    }
}
