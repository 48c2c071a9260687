namespace MirrorKv.Protocol;

/// <summary>
/// Which pair owns each hash slot of a cluster, and who the pairs' members are, under a version that grows by
/// one with every change. Immutable and validated at construction: every one of the 16,384 slots belongs to
/// exactly one pair (ranges ascending, not overlapping, together covering 0-16383), pair ids are unique, and
/// every range names a pair of the map. Kept in etcd by the cluster's nodes, served by every node (CLUSTER_MAP)
/// so that clients need no etcd. A range may be moving to another pair of the map (<see cref="SlotRange.MigratingTo"/>,
/// <see cref="SlotRange.Phase"/>): that state lives in etcd and in the nodes' views, not on the wire.
/// </summary>
public sealed class ClusterMap
{
    /// <summary>Longest cluster name or pair id: 64 bytes (one length byte on the wire, room to spare).</summary>
    public const int MaxNameLength = 64;

    private const int NoMove = -1;

    private readonly ushort[] _owners;

    // Per slot, while any range moves: the target's pair index | phase << 16, or NoMove. Null when nothing moves,
    // so that a map without moves costs what it did.
    private readonly int[]? _moves;

    /// <summary>Builds and validates a map; throws <see cref="ArgumentException"/> naming the first thing wrong.</summary>
    public ClusterMap(string name, ulong version, IReadOnlyList<ClusterPair> pairs, IReadOnlyList<SlotRange> ranges)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        ArgumentNullException.ThrowIfNull(ranges);
        if (!IsValidName(name))
        {
            throw new ArgumentException($"cluster name '{name}' must be 1 to {MaxNameLength} ASCII letters, digits, '-', '_' or '.'");
        }

        if (version == 0)
        {
            throw new ArgumentException("map version must be at least 1");
        }

        if (pairs.Count is 0 or > ushort.MaxValue)
        {
            throw new ArgumentException($"a map has 1 to {ushort.MaxValue} pairs; got {pairs.Count}");
        }

        var index = new Dictionary<string, ushort>(StringComparer.Ordinal);
        for (int i = 0; i < pairs.Count; i++)
        {
            ClusterPair pair = pairs[i] ?? throw new ArgumentException($"pair {i} is null");
            if (!IsValidName(pair.Id))
            {
                throw new ArgumentException($"pair id '{pair.Id}' must be 1 to {MaxNameLength} ASCII letters, digits, '-', '_' or '.'");
            }

            if (pair.Members is null || pair.Members.Count is 0 or > byte.MaxValue || pair.Members.Any(m => m?.EndPoint is null))
            {
                throw new ArgumentException($"pair '{pair.Id}' must have 1 to {byte.MaxValue} members, each with an endpoint");
            }

            if (!index.TryAdd(pair.Id, (ushort)i))
            {
                throw new ArgumentException($"pair id '{pair.Id}' appears twice");
            }
        }

        _owners = new ushort[HashSlot.Count];
        int next = 0;
        foreach (SlotRange range in ranges)
        {
            if (range.First != next || range.Last < range.First || range.Last >= HashSlot.Count)
            {
                throw new ArgumentException(next < HashSlot.Count && range.First > next
                    ? $"slots {next}-{range.First - 1} belong to no pair"
                    : $"slot range {range.First}-{range.Last} is out of order, overlaps the one before, or runs past {HashSlot.Count - 1}");
            }

            if (range.PairId is null || !index.TryGetValue(range.PairId, out ushort owner))
            {
                throw new ArgumentException($"slot range {range.First}-{range.Last} names pair '{range.PairId}', which is not in the map");
            }

            _owners.AsSpan(range.First, range.Count).Fill(owner);
            if (range.MigratingTo is not null || range.Phase != MigrationPhase.None)
            {
                if (range.MigratingTo is null || range.Phase is not (MigrationPhase.Copy or MigrationPhase.Handoff))
                {
                    throw new ArgumentException($"slot range {range.First}-{range.Last} must name both the pair it moves to and a phase (copy or handoff), or neither");
                }

                if (!index.TryGetValue(range.MigratingTo, out ushort target))
                {
                    throw new ArgumentException($"slot range {range.First}-{range.Last} moves to pair '{range.MigratingTo}', which is not in the map");
                }

                if (target == owner)
                {
                    throw new ArgumentException($"slot range {range.First}-{range.Last} moves to its own owner '{range.PairId}'");
                }

                if (_moves is null)
                {
                    _moves = new int[HashSlot.Count];
                    Array.Fill(_moves, NoMove);
                }

                _moves.AsSpan(range.First, range.Count).Fill(target | ((int)range.Phase << 16));
            }

            next = range.Last + 1;
        }

        if (next != HashSlot.Count)
        {
            throw new ArgumentException($"slots {next}-{HashSlot.Count - 1} belong to no pair");
        }

        Name = name;
        Version = version;
        Pairs = [.. pairs];
        Ranges = [.. ranges];
        OwnershipRanges = _moves is null ? Ranges : Merge(Ranges);
    }

    /// <summary>The cluster's name (<c>serve --cluster</c>).</summary>
    public string Name { get; }

    /// <summary>Grows by one with every change of the map; a client keeps the highest it has seen.</summary>
    public ulong Version { get; }

    /// <summary>The pairs, in the map's order (a range names its pair by index on the wire).</summary>
    public IReadOnlyList<ClusterPair> Pairs { get; }

    /// <summary>The slot ranges, ascending, covering every slot once.</summary>
    public IReadOnlyList<SlotRange> Ranges { get; }

    /// <summary>
    /// The ranges by owner alone, adjacent ranges of one owner merged (what CLUSTER_MAP sends): the same as
    /// <see cref="Ranges"/> when nothing moves.
    /// </summary>
    public IReadOnlyList<SlotRange> OwnershipRanges { get; }

    /// <summary>Whether any range is moving.</summary>
    public bool HasMigrations => _moves is not null;

    /// <summary>
    /// The phase of <paramref name="slot"/>'s move and the index in <see cref="Pairs"/> of the pair it moves to (-1
    /// when it does not move). One array read; runs on the write path of a cluster node.
    /// </summary>
    public MigrationPhase MigrationOf(int slot, out int targetIndex)
    {
        int move = _moves is null ? NoMove : _moves[slot];
        if (move == NoMove)
        {
            targetIndex = -1;
            return MigrationPhase.None;
        }

        targetIndex = move & 0xFFFF;
        return (MigrationPhase)(move >> 16);
    }

    /// <summary>
    /// The same map under <paramref name="version"/> with slots <paramref name="first"/>-<paramref name="last"/>
    /// owned by <paramref name="owner"/> and moving to <paramref name="migratingTo"/> in <paramref name="phase"/>
    /// (neither: not moving); adjacent ranges of the same state are merged.
    /// </summary>
    public ClusterMap WithSlots(ulong version, int first, int last, string owner, string? migratingTo = null, MigrationPhase phase = MigrationPhase.None)
    {
        if (first < 0 || last < first || last >= HashSlot.Count)
        {
            throw new ArgumentException($"slot range {first}-{last} is not within 0-{HashSlot.Count - 1}");
        }

        var ranges = new List<SlotRange>(Ranges.Count + 2);
        foreach (SlotRange range in Ranges)
        {
            if (range.Last < first || range.First > last)
            {
                ranges.Add(range);
                continue;
            }

            if (range.First < first)
            {
                ranges.Add(range with { Last = first - 1 });
            }

            if (range.First <= first)
            {
                ranges.Add(new SlotRange(first, last, owner, migratingTo, phase));
            }

            if (range.Last > last)
            {
                ranges.Add(range with { First = last + 1 });
            }
        }

        return new ClusterMap(Name, version, Pairs, Merge(ranges, keepMoves: true));
    }

    /// <summary>The same slots under <paramref name="version"/> with the pairs <paramref name="pairs"/> (a pair added, or one without slots dropped).</summary>
    public ClusterMap WithPairs(ulong version, IReadOnlyList<ClusterPair> pairs) => new(Name, version, pairs, Ranges);

    /// <summary>The index in <see cref="Pairs"/> of the pair that owns <paramref name="slot"/>.</summary>
    public int OwnerIndex(int slot) => _owners[slot];

    /// <summary>The pair that owns <paramref name="slot"/>.</summary>
    public ClusterPair Owner(int slot) => Pairs[_owners[slot]];

    /// <summary>The pair with id <paramref name="pairId"/>, or null.</summary>
    public ClusterPair? Find(string pairId)
    {
        foreach (ClusterPair pair in Pairs)
        {
            if (pair.Id == pairId)
            {
                return pair;
            }
        }

        return null;
    }

    /// <summary>Index of pair <paramref name="pairId"/> in <see cref="Pairs"/>, or -1.</summary>
    public int IndexOf(string pairId)
    {
        for (int i = 0; i < Pairs.Count; i++)
        {
            if (Pairs[i].Id == pairId)
            {
                return i;
            }
        }

        return -1;
    }

    // Adjacent ranges of the same owner (and, with keepMoves, the same move) as one.
    private static List<SlotRange> Merge(IReadOnlyList<SlotRange> ranges, bool keepMoves = false)
    {
        var merged = new List<SlotRange>(ranges.Count);
        foreach (SlotRange range in ranges)
        {
            SlotRange r = keepMoves ? range : new SlotRange(range.First, range.Last, range.PairId);
            if (merged.Count > 0 && merged[^1] is { } last && last.Last + 1 == r.First && last.PairId == r.PairId && last.MigratingTo == r.MigratingTo && last.Phase == r.Phase)
            {
                merged[^1] = last with { Last = r.Last };
            }
            else
            {
                merged.Add(r);
            }
        }

        return merged;
    }

    /// <summary>Slots owned by pair <paramref name="pairId"/>.</summary>
    public int SlotsOf(string pairId) => Ranges.Where(r => r.PairId == pairId).Sum(r => r.Count);

    /// <summary>The same map under another version (the next one, when a change is written).</summary>
    public ClusterMap WithVersion(ulong version) => new(Name, version, Pairs, Ranges);

    /// <summary>
    /// A map of <paramref name="pairs"/> with the slots split evenly in pair order: 16,384 / n slots each, the
    /// first 16,384 mod n pairs one more (three pairs: 0-5461, 5462-10922, 10923-16383, as Redis Cluster splits).
    /// </summary>
    public static ClusterMap SplitEvenly(string name, ulong version, IReadOnlyList<ClusterPair> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        if (pairs.Count is 0 or > HashSlot.Count)
        {
            throw new ArgumentException($"cannot split {HashSlot.Count} slots over {pairs.Count} pairs");
        }

        var ranges = new List<SlotRange>(pairs.Count);
        int first = 0;
        for (int i = 0; i < pairs.Count; i++)
        {
            int count = (HashSlot.Count / pairs.Count) + (i < HashSlot.Count % pairs.Count ? 1 : 0);
            ranges.Add(new SlotRange(first, first + count - 1, pairs[i].Id));
            first += count;
        }

        return new ClusterMap(name, version, pairs, ranges);
    }

    /// <summary>Whether <paramref name="name"/> can be a cluster name or pair id.</summary>
    public static bool IsValidName(string? name) =>
        !string.IsNullOrEmpty(name) && name.Length <= MaxNameLength && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <inheritdoc />
    public override string ToString() => $"cluster {Name} map version {Version}: {string.Join(", ", Ranges)}";
}
