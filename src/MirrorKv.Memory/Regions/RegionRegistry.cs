namespace MirrorKv.Memory;

/// <summary>
/// The regions a node has registered, found by rkey. <see cref="Check"/> is the single check that
/// every remote access goes through; <see cref="Resolve"/> is the only way to turn a remote pointer
/// into memory.
/// </summary>
/// <remarks>
/// Registration is rare and rebuilds an immutable lookup table; lookups read the table without a lock, so
/// the one-sided read path never blocks on registration. A store registers its memory in chunks as it
/// fills (up to a few hundred regions), so lookups go through a hash of the rkey, not a scan.
/// </remarks>
public sealed class RegionRegistry
{
    private readonly Lock _writeLock = new();
    private volatile MemoryRegion[] _regions = [];
    private volatile RKeyTable<MemoryRegion> _visible = RKeyTable<MemoryRegion>.Empty;
    private bool _withdrawn;

    /// <summary>The registered regions, in registration order (withdrawn ones included).</summary>
    public IReadOnlyList<MemoryRegion> Regions => _regions;

    /// <summary>True while <see cref="Withdraw"/> hides every region.</summary>
    public bool IsWithdrawn
    {
        get
        {
            lock (_writeLock)
            {
                return _withdrawn;
            }
        }
    }

    /// <summary>
    /// Hides every region, registered now or later, until <see cref="Restore"/>: accesses get
    /// <see cref="AccessStatus.UnknownRKey"/>, as for a region of an earlier incarnation. A node that fences
    /// itself withdraws its memory this way, whatever chunks it holds.
    /// </summary>
    public void Withdraw()
    {
        lock (_writeLock)
        {
            _withdrawn = true;
            _visible = RKeyTable<MemoryRegion>.Empty;
        }
    }

    /// <summary>Undoes <see cref="Withdraw"/>: every registered region is accessible again.</summary>
    public void Restore()
    {
        lock (_writeLock)
        {
            _withdrawn = false;
            Publish(_regions);
        }
    }

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

            Publish([.. current, region]);
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

            Publish([.. current.AsSpan(0, index), .. current.AsSpan(index + 1)]);
            return true;
        }
    }

    /// <summary>Finds the accessible region with this rkey, or null (none, or withdrawn).</summary>
    public MemoryRegion? Find(uint rkey) => _visible.Find(rkey);

    // Under the write lock.
    private void Publish(MemoryRegion[] regions)
    {
        _regions = regions;
        if (_withdrawn)
        {
            return;
        }

        var entries = new (uint, MemoryRegion)[regions.Length];
        for (int i = 0; i < regions.Length; i++)
        {
            entries[i] = (regions[i].RKey, regions[i]);
        }

        _visible = RKeyTable<MemoryRegion>.Build(entries);
    }

    /// <summary>
    /// The access check: the rkey must name a region of this incarnation, the range must lie inside it,
    /// and both the region and the caller's <paramref name="granted"/> flags must allow <paramref name="requested"/>.
    /// </summary>
    public AccessStatus Check(in RemotePointer pointer, AccessFlags requested, AccessFlags granted, out MemoryRegion? region)
    {
        region = Find(pointer.RKey);
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
