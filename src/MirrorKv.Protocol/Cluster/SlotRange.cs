namespace MirrorKv.Protocol;

/// <summary>
/// The slots <see cref="First"/> to <see cref="Last"/>, both included, owned by pair <see cref="PairId"/>, and, while
/// they move, the pair they move to and the phase of the move (in the map in etcd only; the wire map carries
/// ownership alone).
/// </summary>
/// <param name="First">The first slot.</param>
/// <param name="Last">The last slot (included).</param>
/// <param name="PairId">The owner: the pair that serves the slots.</param>
/// <param name="MigratingTo">The pair the slots move to, or null when they do not move.</param>
/// <param name="Phase">The move's phase; <see cref="MigrationPhase.None"/> exactly when <paramref name="MigratingTo"/> is null.</param>
public readonly record struct SlotRange(int First, int Last, string PairId, string? MigratingTo = null, MigrationPhase Phase = MigrationPhase.None)
{
    /// <summary>Slots in the range.</summary>
    public int Count => Last - First + 1;

    /// <summary>Whether the range is moving.</summary>
    public bool IsMigrating => MigratingTo is not null;

    /// <inheritdoc />
    public override string ToString()
    {
        string slots = First == Last ? $"{First}" : $"{First}-{Last}";
        return MigratingTo is null ? $"{slots} -> {PairId}" : $"{slots} -> {PairId} ({Phase.ToString().ToLowerInvariant()} to {MigratingTo})";
    }
}
