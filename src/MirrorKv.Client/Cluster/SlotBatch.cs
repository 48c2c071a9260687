using MirrorKv.Protocol;

namespace MirrorKv.Client;

/// <summary>
/// A batch of keys split by owning pair: for each pair (by its index in the map) the positions of its keys in
/// the caller's list, ascending, so that each pair gets its keys in the caller's order and every result goes
/// back to the position it came from.
/// </summary>
internal sealed class SlotBatch
{
    private SlotBatch(List<int>?[] positions) => Positions = positions;

    /// <summary>Per pair index, the positions of its keys (null for a pair with none).</summary>
    public List<int>?[] Positions { get; }

    /// <summary>Splits <paramref name="keys"/> (or the positions <paramref name="only"/> of them) over <paramref name="pairCount"/> owners.</summary>
    public static SlotBatch Split(IReadOnlyList<string> keys, Func<int, int> ownerOfSlot, int pairCount, IReadOnlyList<int>? only = null)
    {
        var positions = new List<int>?[pairCount];
        int count = only?.Count ?? keys.Count;
        for (int n = 0; n < count; n++)
        {
            int i = only?[n] ?? n;
            int owner = ownerOfSlot(HashSlot.Of(keys[i]));
            (positions[owner] ??= []).Add(i);
        }

        return new SlotBatch(positions);
    }

    /// <summary>The keys at <paramref name="positions"/>, in that order.</summary>
    public static List<T> Pick<T>(IReadOnlyList<T> items, List<int> positions)
    {
        var picked = new List<T>(positions.Count);
        foreach (int i in positions)
        {
            picked.Add(items[i]);
        }

        return picked;
    }
}
