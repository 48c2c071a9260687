namespace MirrorKv.Cli.Bench;

/// <summary>
/// One client connection of the bench harness, to MirrorKv or to redis, so that the two servers are driven
/// by the same loop: a batch of key indexes is read or written with the whole batch in flight.
/// </summary>
internal interface IBenchConnection : IAsyncDisposable
{
    /// <summary>Reads every key of the batch; throws if one is missing or has the wrong size.</summary>
    ValueTask GetAsync(int[] batch);

    /// <summary>Writes every key of the batch; returns once all are acknowledged.</summary>
    ValueTask SetAsync(int[] batch);

    /// <summary>
    /// A cache's read-through: reads every key of the batch, then writes the ones that missed (all in flight at
    /// once, as a cache-aside application's batch would); returns how many were hits.
    /// </summary>
    ValueTask<int> GetOrSetAsync(int[] batch);
}
