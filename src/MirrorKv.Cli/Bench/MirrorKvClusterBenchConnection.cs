using System.Buffers;
using System.Runtime.CompilerServices;
using MirrorKv.Client;

namespace MirrorKv.Cli.Bench;

/// <summary>
/// The bench harness over a <see cref="MirrorKvClusterClient"/> (<c>bench --cluster</c>): each key routed to its
/// pair by slot, read one-sided there, written through that pair's primary. Batches (pipeline above 1) use the
/// cluster client's split batches, whose reads return new arrays: only pipeline 1 is allocation-free.
/// </summary>
internal sealed class MirrorKvClusterBenchConnection(MirrorKvClusterClient client, string[] keys, byte[] value, int pipeline) : IBenchConnection
{
    private readonly string[] _batchKeys = new string[pipeline];
    private readonly ArrayBufferWriter<byte> _writer = new(value.Length);
    private readonly ReadOnlyMemory<byte>[] _values = Enumerable.Repeat<ReadOnlyMemory<byte>>(value, pipeline).ToArray();

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask GetAsync(int[] batch)
    {
        if (batch.Length == 1)
        {
            _writer.ResetWrittenCount();
            bool found = await client.TryGetAsync(keys[batch[0]], _writer);
            if (!found || _writer.WrittenCount != value.Length)
            {
                throw new BenchReadMismatchException(keys[batch[0]], found ? _writer.WrittenCount : null, value.Length);
            }

            return;
        }

        int i = 0;
        foreach (byte[]? read in await client.GetManyAsync(Keys(batch)))
        {
            if (read?.Length != value.Length)
            {
                throw new BenchReadMismatchException(keys[batch[i]], read?.Length, value.Length);
            }

            i++;
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SetAsync(int[] batch)
    {
        if (batch.Length == 1)
        {
            await client.SetAsync(keys[batch[0]], value);
            return;
        }

        await client.SetManyAsync(Keys(batch), new ArraySegment<ReadOnlyMemory<byte>>(_values, 0, batch.Length));
    }

    public async ValueTask<int> GetOrSetAsync(int[] batch)
    {
        int hits = 0;
        foreach (int index in batch)
        {
            _writer.ResetWrittenCount();
            if (await client.TryGetAsync(keys[index], _writer))
            {
                hits++;
            }
            else
            {
                await client.SetAsync(keys[index], value);
            }
        }

        return hits;
    }

    public ValueTask DisposeAsync() => client.DisposeAsync();

    private ArraySegment<string> Keys(int[] batch)
    {
        for (int i = 0; i < batch.Length; i++)
        {
            _batchKeys[i] = keys[batch[i]];
        }

        return new ArraySegment<string>(_batchKeys, 0, batch.Length);
    }
}
