using System.Runtime.CompilerServices;
using System.Buffers;
using MirrorKv.Client;

namespace MirrorKv.Cli.Bench;

/// <summary>The bench harness over a <see cref="MirrorKvClient"/>: one-sided reads, replicated writes.</summary>
internal sealed class MirrorKvBenchConnection(MirrorKvClient client, string[] keys, byte[] value, int pipeline) : IBenchConnection
{
    private readonly string[] _batchKeys = new string[pipeline];
    private readonly ArrayBufferWriter<byte>[] _writers = Enumerable.Range(0, pipeline).Select(_ => new ArrayBufferWriter<byte>(value.Length)).ToArray();
    private readonly ReadOnlyMemory<byte>[] _values = Enumerable.Repeat<ReadOnlyMemory<byte>>(value, pipeline).ToArray();
    private readonly bool[] _found = new bool[pipeline];
    private readonly string[] _missed = new string[pipeline];

    // Reads the batch's keys into _writers, setting _found: one GET, or one pipelined batch.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReadBatchAsync(int[] batch)
    {
        for (int i = 0; i < batch.Length; i++)
        {
            _batchKeys[i] = keys[batch[i]];
            _writers[i].ResetWrittenCount();
        }

        if (batch.Length == 1)
        {
            _found[0] = await client.TryGetAsync(_batchKeys[0], _writers[0]);
        }
        else
        {
            await client.TryGetManyAsync(_batchKeys, _writers, _found);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask GetAsync(int[] batch)
    {
        await ReadBatchAsync(batch);

        for (int i = 0; i < batch.Length; i++)
        {
            if (!_found[i] || _writers[i].WrittenCount != value.Length)
            {
                throw new BenchReadMismatchException(_batchKeys[i], _found[i] ? _writers[i].WrittenCount : null, value.Length);
            }
        }
    }

    // A full batch is not awaited here: the client's task is the caller's (as in RedisBenchConnection), one
    // resumption fewer per batch.
    public ValueTask SetAsync(int[] batch)
    {
        if (batch.Length != _batchKeys.Length)
        {
            return SetOneByOneAsync(batch);
        }

        for (int i = 0; i < batch.Length; i++)
        {
            _batchKeys[i] = keys[batch[i]];
        }

        return batch.Length == 1 ? client.SetAsync(_batchKeys[0], value) : client.SetManyAsync(_batchKeys, _values);
    }

    // The last, short batch of the load: one key at a time.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SetOneByOneAsync(int[] batch)
    {
        foreach (int index in batch)
        {
            await client.SetAsync(keys[index], value);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> GetOrSetAsync(int[] batch)
    {
        await ReadBatchAsync(batch);

        int missed = 0;
        for (int i = 0; i < batch.Length; i++)
        {
            if (!_found[i])
            {
                _missed[missed++] = _batchKeys[i];
            }
            else if (_writers[i].WrittenCount != value.Length)
            {
                throw new BenchReadMismatchException(_batchKeys[i], _writers[i].WrittenCount, value.Length);
            }
        }

        if (missed == 1)
        {
            await client.SetAsync(_missed[0], value);
        }
        else if (missed > 1)
        {
            await client.SetManyAsync(new ArraySegment<string>(_missed, 0, missed), new ArraySegment<ReadOnlyMemory<byte>>(_values, 0, missed));
        }

        return batch.Length - missed;
    }

    public ValueTask DisposeAsync() => client.DisposeAsync();
}
