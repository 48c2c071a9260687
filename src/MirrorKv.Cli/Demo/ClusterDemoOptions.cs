namespace MirrorKv.Cli.Demo;

/// <summary>What the cluster demo runs.</summary>
/// <param name="Pairs">Pairs in the cluster: 3 shows a pair that fails, one that takes slots, and one that is not involved.</param>
/// <param name="Keys">Keys loaded, spread over the pairs by hash slot.</param>
/// <param name="ValueSize">Bytes per value.</param>
/// <param name="MovedSlots">The first pair's slots 0 to this - 1 move to the second pair: 2,048 of its 5,462 (a third of its keys).</param>
/// <param name="BatchSlots">Slots per batch of the move: 512 makes four batches, so that the kill lands in the middle of the move.</param>
/// <param name="BeforeMove">Workload time before the move starts.</param>
/// <param name="AfterMove">Workload time after the move ended and the killed node rejoined.</param>
/// <param name="Json">Also print the summary as one JSON object on the last line.</param>
internal sealed record ClusterDemoOptions(int Pairs, int Keys, int ValueSize, int MovedSlots, int BatchSlots, TimeSpan BeforeMove, TimeSpan AfterMove, bool Json = false)
{
    public static ClusterDemoOptions Default { get; } = new(3, 20_000, 100, 2_048, 512, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2));
}
