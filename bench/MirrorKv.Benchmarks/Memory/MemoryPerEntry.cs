using System.Diagnostics;
using System.Globalization;
using MirrorKv.Benchmarks.Micro;
using MirrorKv.Cli.Redis;
using MirrorKv.Entries;
using MirrorKv.Store;

namespace MirrorKv.Benchmarks.Memory;

/// <summary>
/// Bytes per entry beyond key and value, for the same data in MirrorKv and in redis-server, in one run.
/// MirrorKv counts claimed slabs plus the index (unclaimed slabs of the registered region hold nothing);
/// redis counts used_memory (what its allocator handed out) minus used_memory before the load.
/// </summary>
internal static class MemoryPerEntry
{
    public static async Task<int> RunAsync(string[] args, TextWriter output)
    {
        int entries = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1_000_000;
        int valueSize = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100;
        long payload = (long)entries * (BenchData.KeyLength + valueSize);
        output.WriteLine($"{entries:N0} entries, {BenchData.KeyLength} B keys, {valueSize} B values: {payload:N0} B of keys and values");

        StoreStats stats = MeasureMirrorKv(entries, valueSize);
        double ours = (double)(stats.UsedBytes - payload) / entries;
        output.WriteLine($"MirrorKv  used {stats.UsedBytes,13:N0} B ({stats.ClaimedSlabs} slabs of {stats.SlabSize >> 10} KiB + {stats.IndexBytes:N0} B index) -> {ours,6:F1} B per entry beyond key and value");

        string? redis = RedisServer.Find();
        if (redis is null)
        {
            output.WriteLine("redis     skipped: redis-server not found (install it with: apt-get install redis-server)");
            return 0;
        }

        (long before, long after, string version) = await MeasureRedisAsync(redis, entries, valueSize);
        double theirs = (double)(after - before - payload) / entries;
        output.WriteLine($"redis     used {after - before,13:N0} B (used_memory {after:N0} - {before:N0} before the load, redis {version}) -> {theirs,6:F1} B per entry beyond key and value");
        output.WriteLine($"ratio     MirrorKv overhead / redis overhead = {ours / theirs:F2}");
        return 0;
    }

    private static StoreStats MeasureMirrorKv(int entries, int valueSize)
    {
        ulong region = ((ulong)entries * (ulong)(EntryLayout.EntrySize(BenchData.KeyLength, valueSize) + 64) / (1 << 20) + 64) << 20;
        using var store = new StoreEngine(StoreOptions.Default with { MaxMemory = region });
        byte[] value = BenchData.Value(valueSize, 1);
        for (int i = 0; i < entries; i++)
        {
            StoreWriteResult w = store.Write(BenchData.Key(i), value);
            if (!w.IsOk)
            {
                throw new InvalidOperationException($"write {i} failed: {w.Status}");
            }
        }

        return store.GetStats();
    }

    private static async Task<(long Before, long After, string Version)> MeasureRedisAsync(string redisPath, int entries, int valueSize)
    {
        await using var server = await RedisServer.StartAsync(redisPath);
        await using var client = await RespClient.ConnectAsync(server.Port);
        Dictionary<string, string> info = await client.InfoAsync("memory");
        long before = long.Parse(info["used_memory"], CultureInfo.InvariantCulture);
        byte[] value = BenchData.Value(valueSize, 1);
        const int batch = 1000;
        var keys = new List<byte[]>(batch);
        for (int i = 0; i < entries; i += batch)
        {
            keys.Clear();
            for (int j = i; j < Math.Min(entries, i + batch); j++)
            {
                keys.Add(BenchData.Key(j));
            }

            await client.SetManyAsync(keys, value);
        }

        info = await client.InfoAsync("memory");
        long after = long.Parse(info["used_memory"], CultureInfo.InvariantCulture);
        Dictionary<string, string> serverInfo = await client.InfoAsync("server");
        Debug.Assert(serverInfo.ContainsKey("redis_version"));
        return (before, after, serverInfo.GetValueOrDefault("redis_version", "?"));
    }
}
