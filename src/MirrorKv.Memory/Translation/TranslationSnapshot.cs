namespace MirrorKv.Memory;

/// <summary>
/// An immutable view of the translation table. Readers take one from <see cref="TranslationTable.Current"/>
/// and use it without locks; it never changes under them.
/// </summary>
public sealed class TranslationSnapshot
{
    private readonly RKeyTable<RegionTranslation> _byRKey;

    internal TranslationSnapshot(RegionTranslation[] regions, int slabSize)
    {
        Regions = regions;
        SlabSize = slabSize;
        var entries = new (uint, RegionTranslation)[regions.Length];
        for (int i = 0; i < regions.Length; i++)
        {
            entries[i] = (regions[i].PrimaryRKey, regions[i]);
        }

        _byRKey = RKeyTable<RegionTranslation>.Build(entries);
    }

    /// <summary>The snapshot with no region mapped.</summary>
    public static TranslationSnapshot Empty(int slabSize) => new([], slabSize);

    /// <summary>Slab size in bytes, the same on both nodes.</summary>
    public int SlabSize { get; }

    internal RegionTranslation[] Regions { get; }

    /// <summary>
    /// Translates a primary pointer to the local one: same offset inside the slab, local slab base,
    /// local rkey. Pure: depends on nothing but this snapshot and the argument.
    /// </summary>
    public TranslationStatus TryTranslate(in RemotePointer primary, out RemotePointer local)
    {
        local = default;
        RegionTranslation? region = FindRegion(primary.RKey);
        if (region is null)
        {
            return TranslationStatus.UnknownRegion;
        }

        if (primary.Length == 0)
        {
            return TranslationStatus.ZeroLength;
        }

        if (primary.Address < region.PrimaryBase || primary.Address - region.PrimaryBase >= region.PrimaryLength)
        {
            return TranslationStatus.OutsideRegion;
        }

        return TranslateInRegion(region, primary, out local);
    }

    // A range past its first slab (a large entry, or a piece of one) translates with its first slab's delta only when
    // every slab it covers is mirrored right after the one before, as the secondary mirrors a large entry's slabs.
    // O(slabs covered), on the large-entry path only.
    private static bool SpansContiguously(RegionTranslation region, ulong firstSlab, ulong bytesFromFirstSlab)
    {
        ulong slabSize = 1UL << region.SlabShift;
        ulong slabs = (bytesFromFirstSlab + slabSize - 1) >> region.SlabShift;
        if (firstSlab + slabs > (ulong)region.LocalSlabBases.Length)
        {
            return false;
        }

        ulong first = region.LocalSlabBases[firstSlab];
        for (ulong i = 1; i < slabs; i++)
        {
            if (region.LocalSlabBases[firstSlab + i] != first + (i * slabSize))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// What a FAILOVER_READ does with a primary pointer, with one region lookup and one bounds check: first the
    /// primary's own access check, with its rules and in its order (<see cref="AccessStatus.UnknownRKey"/> when no
    /// region with that rkey is mirrored, then zero length, before the region, overflow, past the end), so that an
    /// out-of-range pointer is refused with the status the primary's READ would give it; then the translation.
    /// </summary>
    /// <param name="primary">The pointer as the primary handed it out.</param>
    /// <param name="local">The translated pointer when both steps succeed.</param>
    /// <param name="translation">
    /// When the range check passed: <see cref="TranslationStatus.Ok"/>, or why the pointer has no local slab
    /// (<see cref="TranslationStatus.UnknownSlab"/>, <see cref="TranslationStatus.CrossesSlab"/>). Otherwise the
    /// translation status matching the failed check.
    /// </param>
    /// <returns>The range check's outcome.</returns>
    public AccessStatus TryTranslateChecked(in RemotePointer primary, out RemotePointer local, out TranslationStatus translation)
    {
        local = default;
        RegionTranslation? region = FindRegion(primary.RKey);
        if (region is null)
        {
            translation = TranslationStatus.UnknownRegion;
            return AccessStatus.UnknownRKey;
        }

        AccessStatus range = MemoryRegion.CheckBounds(region.PrimaryBase, region.PrimaryLength, primary.Address, primary.Length);
        if (range != AccessStatus.Ok)
        {
            translation = range == AccessStatus.ZeroLength ? TranslationStatus.ZeroLength : TranslationStatus.OutsideRegion;
            return range;
        }

        translation = TranslateInRegion(region, primary, out local);
        return AccessStatus.Ok;
    }

    /// <summary>As <see cref="TryTranslate"/>, throwing <see cref="TranslationException"/> on failure.</summary>
    public RemotePointer Translate(in RemotePointer primary)
    {
        TranslationStatus status = TryTranslate(primary, out RemotePointer local);
        if (status != TranslationStatus.Ok)
        {
            TranslationException.Throw(status, primary);
        }

        return local;
    }

    /// <summary>True when a translation is known for this primary rkey.</summary>
    public bool Knows(uint primaryRKey) => FindRegion(primaryRKey) is not null;

    /// <summary>The local rkey that translated pointers of <paramref name="primaryRKey"/> carry.</summary>
    public uint LocalRKeyOf(uint primaryRKey) => FindRegion(primaryRKey)?.LocalRKey ?? 0;

    /// <summary>The known slab mappings of one primary region, by ascending primary address.</summary>
    public IReadOnlyList<SlabMapping> GetMappings(uint primaryRKey)
    {
        RegionTranslation? region = FindRegion(primaryRKey);
        if (region is null)
        {
            return [];
        }

        var mappings = new List<SlabMapping>();
        for (int i = 0; i < region.LocalSlabBases.Length; i++)
        {
            if (region.LocalSlabBases[i] != 0)
            {
                mappings.Add(new SlabMapping(region.PrimaryBase + ((ulong)i << region.SlabShift), region.LocalSlabBases[i]));
            }
        }

        return mappings;
    }

    /// <summary>How many different deltas the known slabs use (tests and the demo report it).</summary>
    public int CountDistinctDeltas()
    {
        var deltas = new HashSet<long>();
        foreach (RegionTranslation region in Regions)
        {
            foreach (SlabMapping m in GetMappings(region.PrimaryRKey))
            {
                deltas.Add(m.Delta);
            }
        }

        return deltas.Count;
    }

    // The slab part of a translation, for a non-empty pointer whose address lies inside the region.
    private static TranslationStatus TranslateInRegion(RegionTranslation region, in RemotePointer primary, out RemotePointer local)
    {
        local = default;
        ulong offset = primary.Address - region.PrimaryBase;
        ulong slabIndex = offset >> region.SlabShift;
        ulong offsetInSlab = offset & ((1UL << region.SlabShift) - 1);
        ulong localSlabBase = region.LocalSlabBases[slabIndex];
        if (localSlabBase == 0)
        {
            return TranslationStatus.UnknownSlab;
        }

        if (offsetInSlab + primary.Length > (1UL << region.SlabShift) && !SpansContiguously(region, slabIndex, offsetInSlab + primary.Length))
        {
            return TranslationStatus.CrossesSlab;
        }

        local = new RemotePointer(region.LocalRKey, localSlabBase + offsetInSlab, primary.Length);
        return TranslationStatus.Ok;
    }

    internal RegionTranslation? FindRegion(uint primaryRKey) => _byRKey.Find(primaryRKey);

    /// <summary>The primary rkeys this snapshot translates, in the order they were mapped.</summary>
    public IReadOnlyList<uint> PrimaryRKeys => Array.ConvertAll(Regions, r => r.PrimaryRKey);
}
