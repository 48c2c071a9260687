using System.Runtime.CompilerServices;
using MirrorKv.Cli.Redis;

namespace MirrorKv.Cli.Bench;

/// <summary>
/// The bench harness over our pipelined RESP client: GET and SET against redis-server; with
/// <paramref name="waitForReplica"/>, each batch of SETs ends with WAIT 1 0 (redis's synchronous write, the
/// like-for-like peer of MirrorKv's sync SET).
/// </summary>
internal sealed class RedisBenchConnection(RespClient client, byte[][] keys, byte[] value, int pipeline, bool waitForReplica = false) : IBenchConnection
{
    private readonly byte[][] _batchKeys = new byte[pipeline][];
    private readonly bool[] _found = new bool[pipeline];
    private readonly byte[][] _missed = new byte[pipeline][];

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask GetAsync(int[] batch)
    {
        for (int i = 0; i < batch.Length; i++)
        {
            _batchKeys[i] = keys[batch[i]];
        }

        int found = await client.GetManyAsync(_batchKeys, value.Length);
        if (found != batch.Length)
        {
            throw new InvalidOperationException($"redis returned {found} of {batch.Length} values with the expected size");
        }
    }

    // Not awaited here: the batch's own task is the caller's (as in MirrorKvBenchConnection), one resumption fewer.
    public ValueTask SetAsync(int[] batch)
    {
        // The last, short batch of the load gets an array of its own size.
        byte[][] batchKeys = batch.Length == _batchKeys.Length ? _batchKeys : new byte[batch.Length][];
        for (int i = 0; i < batch.Length; i++)
        {
            batchKeys[i] = keys[batch[i]];
        }

        return client.SetManyAsync(batchKeys, value, waitForReplica);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> GetOrSetAsync(int[] batch)
    {
        for (int i = 0; i < batch.Length; i++)
        {
            _batchKeys[i] = keys[batch[i]];
        }

        int hits = await client.GetManyAsync(_batchKeys, value.Length, _found);
        int missed = 0;
        for (int i = 0; i < batch.Length; i++)
        {
            if (!_found[i])
            {
                _missed[missed++] = _batchKeys[i];
            }
        }

        if (missed > 0)
        {
            await client.SetManyAsync(new ArraySegment<byte[]>(_missed, 0, missed), value);
        }

        return hits;
    }

    public ValueTask DisposeAsync() => client.DisposeAsync();
}
