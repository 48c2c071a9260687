using MirrorKv.Client;

namespace MirrorKv.Cli.Bench;

/// <summary>Fills a pair with keys 0..count-1 of one value, in batches of SETs over several connections that share one cursor.</summary>
internal static class BulkLoader
{
    public static async Task LoadAsync(MirrorKvClientOptions clientOptions, int count, Func<int, string> key, byte[] value, int connections, int batchSize, CancellationToken cancellationToken)
    {
        int next = -batchSize;
        ReadOnlyMemory<byte>[] values = Enumerable.Repeat<ReadOnlyMemory<byte>>(value, batchSize).ToArray();
        await Task.WhenAll(Enumerable.Range(0, connections).Select(async _ =>
        {
            await using MirrorKvClient client = await MirrorKvClient.ConnectAsync(clientOptions, cancellationToken);
            var batch = new List<string>(batchSize);
            int start;
            while ((start = Interlocked.Add(ref next, batchSize)) < count)
            {
                batch.Clear();
                for (int i = start; i < Math.Min(count, start + batchSize); i++)
                {
                    batch.Add(key(i));
                }

                await client.SetManyAsync(batch, values, cancellationToken);
            }
        }));
    }
}
