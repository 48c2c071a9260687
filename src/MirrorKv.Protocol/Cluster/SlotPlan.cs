namespace MirrorKv.Protocol;

/// <summary>
/// Which slots to move to reach a share of slots per pair (<c>mirrorkv cluster rebalance</c>, <c>remove-pair</c>):
/// the fewest moves, each pair keeping the slots it has up to its share. A pair over its share gives its highest
/// slots; pairs under their share take them in map order. Pure: the mover carries the moves out.
/// </summary>
public static class SlotPlan
{
    /// <summary>
    /// The even shares over the pairs of <paramref name="map"/> but <paramref name="leaving"/> (which gets 0):
    /// 16,384 / n each, the first 16,384 mod n pairs one more, as <see cref="ClusterMap.SplitEvenly"/> counts.
    /// </summary>
    public static int[] EvenShares(ClusterMap map, string? leaving = null)
    {
        ArgumentNullException.ThrowIfNull(map);
        int staying = map.Pairs.Count(p => p.Id != leaving);
        if (staying == 0)
        {
            throw new ArgumentException($"pair '{leaving}' is the cluster's only pair: its slots have nowhere to go");
        }

        var shares = new int[map.Pairs.Count];
        int rank = 0;
        for (int i = 0; i < shares.Length; i++)
        {
            if (map.Pairs[i].Id != leaving)
            {
                shares[i] = (HashSlot.Count / staying) + (rank++ < HashSlot.Count % staying ? 1 : 0);
            }
        }

        return shares;
    }

    /// <summary>
    /// The moves that give each pair of <paramref name="map"/> its share (<paramref name="shares"/>, in map order,
    /// summing to 16,384): ranges of consecutive slots with one owner and one target, ascending.
    /// </summary>
    public static IReadOnlyList<SlotRange> Moves(ClusterMap map, IReadOnlyList<int> shares)
    {
        ArgumentNullException.ThrowIfNull(map);
        ArgumentNullException.ThrowIfNull(shares);
        if (shares.Count != map.Pairs.Count || shares.Any(s => s < 0) || shares.Sum() != HashSlot.Count)
        {
            throw new ArgumentException($"shares must be one per pair ({map.Pairs.Count}), none negative, summing to {HashSlot.Count}");
        }

        var owned = new int[map.Pairs.Count];
        for (int slot = 0; slot < HashSlot.Count; slot++)
        {
            owned[map.OwnerIndex(slot)]++;
        }

        // Per slot, its new owner: the highest slots of a pair over its share go to the pairs under theirs, in order.
        var targets = new int[HashSlot.Count];
        Array.Fill(targets, -1);
        int receiver = 0;
        var deficit = new int[map.Pairs.Count];
        for (int i = 0; i < deficit.Length; i++)
        {
            deficit[i] = Math.Max(0, shares[i] - owned[i]);
        }

        var surplus = new int[map.Pairs.Count];
        for (int i = 0; i < surplus.Length; i++)
        {
            surplus[i] = Math.Max(0, owned[i] - shares[i]);
        }

        for (int slot = HashSlot.Count - 1; slot >= 0; slot--)
        {
            int owner = map.OwnerIndex(slot);
            if (surplus[owner] == 0)
            {
                continue;
            }

            while (deficit[receiver] == 0)
            {
                receiver++;
            }

            surplus[owner]--;
            deficit[receiver]--;
            targets[slot] = receiver;
        }

        var moves = new List<SlotRange>();
        for (int slot = 0; slot < HashSlot.Count; slot++)
        {
            if (targets[slot] < 0)
            {
                continue;
            }

            string from = map.Pairs[map.OwnerIndex(slot)].Id, to = map.Pairs[targets[slot]].Id;
            if (moves.Count > 0 && moves[^1].Last == slot - 1 && moves[^1].PairId == from && moves[^1].MigratingTo == to)
            {
                moves[^1] = moves[^1] with { Last = slot };
            }
            else
            {
                moves.Add(new SlotRange(slot, slot, from, to, MigrationPhase.Copy));
            }
        }

        return moves;
    }

    /// <summary><paramref name="move"/> cut into ranges of at most <paramref name="slots"/> slots, in order.</summary>
    public static IEnumerable<SlotRange> Batches(SlotRange move, int slots)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(slots);
        for (int first = move.First; first <= move.Last; first += slots)
        {
            yield return move with { First = first, Last = Math.Min(move.Last, first + slots - 1) };
        }
    }
}
