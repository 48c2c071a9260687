namespace MirrorKv.Protocol;

/// <summary>The slots <see cref="First"/> to <see cref="Last"/>, both included, owned by pair <see cref="PairId"/>.</summary>
public readonly record struct SlotRange(int First, int Last, string PairId)
{
    /// <summary>Slots in the range.</summary>
    public int Count => Last - First + 1;

    /// <inheritdoc />
    public override string ToString() => First == Last ? $"{First} -> {PairId}" : $"{First}-{Last} -> {PairId}";
}
