using MirrorKv.Client;
using MirrorKv.Store;

namespace MirrorKv.Cli.Simulation;

/// <summary>
/// The client's pointer table, per key: the managed heap after a full collection (<see cref="GC.GetTotalMemory"/>)
/// before and after a fresh client reads <c>keys</c> keys once (each read looks the key up and keeps its pointer),
/// for a <see cref="MirrorKvClusterClient"/> over the cluster's nodes and a <see cref="MirrorKvClient"/> over one pair
/// of nodes of its own holding the same number of keys. The nodes run in this process, so the keys are written and
/// read once by another client before the measured one reads them (the nodes' heaps have then taken whatever a read
/// makes them take), and the key strings are made before the first figure. A second pass checks that no key is looked up
/// again: every pointer was kept.
/// </summary>
internal static class PointerMemory
{
    private const int Chunk = 512;

    public static async Task<MemoryFigures> RunAsync(SimNodes cluster, int keyCount, CancellationToken cancellationToken)
    {
        string[] keys = [.. Enumerable.Range(0, keyCount).Select(i => $"mem:{i}")];
        ReadOnlyMemory<byte>[] values = [.. Enumerable.Repeat((ReadOnlyMemory<byte>)new byte[8], Chunk)];
        var options = new MirrorKvClientOptions { EndPoints = [.. cluster.EndPoints] };
        await using (MirrorKvClusterClient writer = await MirrorKvClusterClient.ConnectAsync(options, cancellationToken))
        {
            foreach (string[] chunk in keys.Chunk(Chunk))
            {
                await writer.SetManyAsync(chunk, values, cancellationToken);
            }

            // A first reader, so that whatever the nodes (in this process) allocate on a key's first lookup is there before the measured one reads.
            await ReadAllAsync(keys, k => writer.GetManyAsync(k, cancellationToken));
        }

        long before = await SettledHeapAsync(cancellationToken);
        await using MirrorKvClusterClient reader = await MirrorKvClusterClient.ConnectAsync(options, cancellationToken);
        long connected = await SettledHeapAsync(cancellationToken);
        await ReadAllAsync(keys, k => reader.GetManyAsync(k, cancellationToken));
        long filled = await SettledHeapAsync(cancellationToken);
        IEnumerable<MirrorKvClient> pairs = reader.Map!.Pairs.Select(p => reader.PairClient(p.Id)!);
        long lookups = pairs.Sum(c => c.Stats.Lookups);
        await ReadAllAsync(keys, k => reader.GetManyAsync(k, cancellationToken));
        long clusterLookupsAgain = pairs.Sum(c => c.Stats.Lookups) - lookups;

        // The same keys in one pair of its own, read by one pair's client.
        ulong memory = ((((ulong)keyCount * 256) >> 20) + 16) << 20;
        await using SimNodes pair = await SimNodes.StartPairAsync(new StoreOptions { MaxMemory = memory, SlabSize = 64 << 10, MaxValueLength = 4096 }, cancellationToken);
        var pairOptions = new MirrorKvClientOptions { EndPoints = [.. pair.EndPoints] };
        await using (MirrorKvClient writer = await MirrorKvClient.ConnectAsync(pairOptions, cancellationToken))
        {
            foreach (string[] chunk in keys.Chunk(Chunk))
            {
                await writer.SetManyAsync(chunk, values.AsMemory(0, chunk.Length).ToArray(), cancellationToken);
            }

            await ReadAllAsync(keys, k => writer.GetManyAsync(k, cancellationToken));
        }

        await using MirrorKvClient single = await MirrorKvClient.ConnectAsync(pairOptions, cancellationToken);
        long singleConnected = await SettledHeapAsync(cancellationToken);
        await ReadAllAsync(keys, k => single.GetManyAsync(k, cancellationToken));
        long singleFilled = await SettledHeapAsync(cancellationToken);
        lookups = single.Stats.Lookups;
        await ReadAllAsync(keys, k => single.GetManyAsync(k, cancellationToken));
        long singleLookupsAgain = single.Stats.Lookups - lookups;

        int pairCount = reader.Map.Pairs.Count;
        return new MemoryFigures(keyCount, pairCount, (double)(filled - connected) / keyCount, (double)(singleFilled - singleConnected) / keyCount,
            (double)(connected - before) / pairCount, clusterLookupsAgain, singleLookupsAgain);
    }

    private static async Task ReadAllAsync(string[] keys, Func<string[], Task<byte[]?[]>> read)
    {
        foreach (string[] chunk in keys.Chunk(Chunk))
        {
            byte[]?[] got = await read(chunk);
            if (got.Any(v => v is null))
            {
                throw new InvalidOperationException("a key written for the memory measurement was not found");
            }
        }
    }

    // The heap once what a finished step left behind has gone: a client closes a pair's replaced client a request
    // timeout (1 s) after a map refresh, and connections finish in the background.
    private static async Task<long> SettledHeapAsync(CancellationToken cancellationToken)
    {
        await Task.Delay(TimeSpan.FromSeconds(1.5), cancellationToken);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
