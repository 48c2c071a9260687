using System.Diagnostics;
using System.Text;
using MirrorKv.Adapter;
using MirrorKv.Cli.Cluster;
using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.Cli.Simulation;

/// <summary>
/// Redirections after a change, with real nodes: a <see cref="MirrorKvClusterClient"/> writes every key (and so
/// caches every key's pointer), sits idle while the slot mover of <c>cluster move</c> really moves slots
/// 0..<c>moveSlots</c>-1 to the last pair (entries copied, the sources' deleted, three maps per batch), then reads
/// every key and writes every key again from <c>workers</c> tasks. Counts the Moved replies the client followed and
/// the maps it fetched, per pass.
/// </summary>
internal static class RedirectionRun
{
    public static async Task<RedirectFigures> RunAsync(SimNodes nodes, Uri etcd, int keyCount, int moveSlots, int workers, TextWriter log, CancellationToken cancellationToken)
    {
        ClusterMap map = nodes.Map!;
        string[] keys = [.. Enumerable.Range(0, keyCount).Select(i => $"key:{i}")];
        await using MirrorKvClusterClient client = await MirrorKvClusterClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [.. nodes.EndPoints] }, cancellationToken);
        await WriteAllAsync(client, keys, "before", cancellationToken);
        string target = map.Pairs[^1].Id;
        int moving = keys.Count(k => HashSlot.Of(k) is var slot && slot < moveSlots && map.Owner(slot).Id != target);

        using var directory = new ClusterDirectory([etcd], map.Name);
        var mover = new SlotMover(directory, null, TextWriter.Null);
        long started = Stopwatch.GetTimestamp();
        await mover.MoveAsync(0, moveSlots - 1, target, cancellationToken);
        double moveSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        ulong version = (await mover.MapAsync(cancellationToken)).Version;
        log.WriteLine($"  {mover.Stats.Describe()}; map version {map.Version} -> {version}");

        (long redirects, long refreshes) = (client.Redirects, client.MapRefreshes);
        int wrong = 0;
        started = Stopwatch.GetTimestamp();
        await ForEachKeyAsync(keys, workers, async key =>
        {
            byte[]? value = await client.GetAsync(key, cancellationToken);
            if (value is null || Encoding.UTF8.GetString(value) != $"before {key}")
            {
                Interlocked.Increment(ref wrong);
            }
        });
        double readSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        (long readRedirects, long readRefreshes) = (client.Redirects - redirects, client.MapRefreshes - refreshes);
        (redirects, refreshes) = (client.Redirects, client.MapRefreshes);
        await ForEachKeyAsync(keys, workers, key => client.SetAsync(key, Encoding.UTF8.GetBytes($"after {key}"), cancellationToken).AsTask());
        (long writeRedirects, long writeRefreshes) = (client.Redirects - redirects, client.MapRefreshes - refreshes);
        log.WriteLine($"  read {keyCount} keys in {readSeconds:F1} s after the move: {readRedirects} redirections, {readRefreshes} map fetches; then wrote them: {writeRedirects}, {writeRefreshes}");

        return new RedirectFigures(map.Pairs.Count, keyCount, moving, mover.Stats.Slots, mover.Stats.Batches, (int)(version - map.Version), moveSeconds,
            readRedirects, readRefreshes, writeRedirects, writeRefreshes, wrong, client.Map?.Version ?? 0, version, workers);
    }

    private static async Task WriteAllAsync(MirrorKvClusterClient client, string[] keys, string prefix, CancellationToken cancellationToken)
    {
        foreach (string[] chunk in keys.Chunk(256))
        {
            await client.SetManyAsync(chunk, [.. chunk.Select(k => (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes($"{prefix} {k}"))], cancellationToken);
        }
    }

    // Each key once, by `workers` tasks taking the next key in turn: concurrent callers, as an application's.
    private static Task ForEachKeyAsync(string[] keys, int workers, Func<string, Task> call)
    {
        int next = -1;
        return Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(async () =>
        {
            for (int i = Interlocked.Increment(ref next); i < keys.Length; i = Interlocked.Increment(ref next))
            {
                await call(keys[i]);
            }
        })));
    }
}
