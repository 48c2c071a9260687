using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MirrorKv.Cli.Redis;
using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.Cli.Bench;

/// <summary>What <c>mirrorkv bench --memory</c> runs.</summary>
/// <param name="DataBytes">Bytes of values to load (keys come on top: 16 bytes each).</param>
/// <param name="ValueSize">Bytes per value.</param>
/// <param name="MaxMemory">The node's <c>serve --max-memory</c>.</param>
/// <param name="Settle">How long each process idles before its resident size is read.</param>
internal sealed record MemoryBenchOptions(ulong DataBytes, int ValueSize, string MaxMemory, TimeSpan Settle);

/// <summary>
/// <c>mirrorkv bench --memory</c>: the resident memory (VmRSS in /proc/PID/status) of a node alone, idle and then
/// loaded with <see cref="MemoryBenchOptions.DataBytes"/> of values, beside redis-server alone with the same keys and
/// values, and the resident memory of this very binary started without a node (the .NET runtime's floor with the
/// CLI's host, the part of an idle node that is not the node's). Each figure is one process's, read from outside:
/// the node runs as a child process (<c>mirrorkv serve --role primary</c>, no secondary, so nothing is replicated and
/// the figure is the node's alone), as redis-server does; the client that loads both is this process.
/// </summary>
internal sealed class MemoryBench(MemoryBenchOptions options, TextWriter output)
{
    /// <summary>The hidden flag a floor child is started with: it says ready and waits for its input to close.</summary>
    public const string FloorFlag = "--runtime-floor-child";

    private const int LoadConnections = 4;
    private const int LoadBatch = 256;
    private static readonly CompositeFormat KeyFormat = CompositeFormat.Parse("key:{0:D12}");

    public async Task<int> RunAsync(bool compareRedis, bool json, CancellationToken cancellationToken)
    {
        long entries = (long)Math.Ceiling(options.DataBytes / (double)options.ValueSize);
        if (entries > int.MaxValue)
        {
            await Console.Error.WriteLineAsync("error: --data / --value-size gives more than 2^31 keys");
            return 2;
        }

        string? redisPath = compareRedis ? RedisServer.Find() : null;
        if (compareRedis && redisPath is null)
        {
            await Console.Error.WriteLineAsync("error: --compare redis: redis-server not found (install it with: apt-get install redis-server)");
            return 2;
        }

        byte[] value = new byte[options.ValueSize];
        new Random(1).NextBytes(value);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"memory: {entries:N0} keys of 16 B with {options.ValueSize:N0} B values ({options.DataBytes:N0} B of values); node --max-memory {options.MaxMemory}; each process idles {options.Settle.TotalSeconds:F0} s before it is read; load average {LoadAverage()}"));

        long floor = await MeasureFloorAsync(cancellationToken);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"runtime floor (this binary, no node, idle):  VmRSS {Mb(floor)}"));

        long nodeIdle, nodeLoaded;
        ulong nodeEntries;
        TimeSpan nodeLoad;
        await using (PairLauncher node = await PairLauncher.StartPrimaryAsync(options.MaxMemory, "sync", Console.Error))
        {
            int pid = node.Primary.ProcessId;
            await Task.Delay(options.Settle, cancellationToken);
            nodeIdle = ResidentBytes(pid);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"mirrorkv node, idle:                        VmRSS {Mb(nodeIdle)}"));
            var clientOptions = new MirrorKvClientOptions { EndPoints = [node.Primary.EndPoint], RequestTimeout = TimeSpan.FromSeconds(60), Secret = node.Secret };
            var clock = Stopwatch.StartNew();
            await BulkLoader.LoadAsync(clientOptions, (int)entries, Key, value, LoadConnections, LoadBatch, cancellationToken);
            nodeLoad = clock.Elapsed;
            nodeEntries = (await MirrorKvAdmin.GetStatusAsync(node.Primary.EndPoint, secret: node.Secret, cancellationToken: cancellationToken)).Entries;
            await Task.Delay(options.Settle, cancellationToken);
            nodeLoaded = ResidentBytes(pid);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"mirrorkv node, loaded:                      VmRSS {Mb(nodeLoaded)} ({nodeEntries:N0} keys, loaded in {nodeLoad.TotalSeconds:F1} s; {(double)(nodeLoaded - nodeIdle) / entries:F1} B per key above idle)"));
        }

        if (redisPath is null)
        {
            PrintJson(json, entries, floor, nodeIdle, nodeLoaded, null);
            return nodeEntries == (ulong)entries ? 0 : 1;
        }

        long redisIdle, redisLoaded, redisUsed;
        await using (RedisServer redis = await RedisServer.StartAsync(redisPath))
        {
            await Task.Delay(options.Settle, cancellationToken);
            redisIdle = ResidentBytes(redis.ProcessId);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"redis-server, idle:                         VmRSS {Mb(redisIdle)}"));
            await using RespClient client = await RespClient.ConnectAsync(redis.Port);
            var clock = Stopwatch.StartNew();
            await LoadRedisAsync(client, (int)entries, value);
            TimeSpan redisLoad = clock.Elapsed;
            Dictionary<string, string> info = await client.InfoAsync("memory");
            redisUsed = long.Parse(info["used_memory"], CultureInfo.InvariantCulture);
            long keyCount = long.Parse((await client.CallAsync("DBSIZE")).TrimStart(':'), CultureInfo.InvariantCulture);
            await Task.Delay(options.Settle, cancellationToken);
            redisLoaded = ResidentBytes(redis.ProcessId);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"redis-server, loaded:                       VmRSS {Mb(redisLoaded)} ({keyCount:N0} keys, loaded in {redisLoad.TotalSeconds:F1} s; used_memory {Mb(redisUsed)}; {(double)(redisLoaded - redisIdle) / entries:F1} B per key above idle)"));
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"ratio loaded: mirrorkv / redis = {(double)nodeLoaded / redisLoaded:F2} (goal: at most 1.00)"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"idle: mirrorkv {Mb(nodeIdle)} against 2 x redis + floor = {Mb((2 * redisIdle) + floor)} (goal: at most that); without the floor the node adds {Mb(nodeIdle - floor)}"));
        PrintJson(json, entries, floor, nodeIdle, nodeLoaded, (redisIdle, redisLoaded, redisUsed));
        return nodeEntries == (ulong)entries ? 0 : 1;
    }

    /// <summary>What a floor child does: says it is ready, then idles until its standard input closes.</summary>
    public static async Task<int> RunFloorChildAsync()
    {
        // The node's process settings, without the node.
        Serve.NativeHeap.KeepSmall();
        Console.Out.WriteLine("ready floor");
        await Console.Out.FlushAsync();
        await Console.In.ReadToEndAsync();
        return 0;
    }

    /// <summary>VmRSS of a process, in bytes, from /proc/PID/status.</summary>
    public static long ResidentBytes(int pid)
    {
        foreach (string line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                // "VmRSS:     12345 kB"
                string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return long.Parse(parts[1], CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new InvalidOperationException($"/proc/{pid}/status has no VmRSS line");
    }

    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
    }

    private static string Mb(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e6:N1} MB");

    private static string Key(int index) => string.Format(CultureInfo.InvariantCulture, KeyFormat, index);

    private async Task<long> MeasureFloorAsync(CancellationToken cancellationToken)
    {
        string self = Environment.ProcessPath ?? "dotnet";
        var start = new ProcessStartInfo(self) { UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true };
        if (Path.GetFileNameWithoutExtension(self).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, typeof(MemoryBench).Assembly.GetName().Name + ".dll"));
        }

        start.ArgumentList.Add("bench");
        start.ArgumentList.Add(FloorFlag);
        using Process child = Process.Start(start) ?? throw new InvalidOperationException("could not start the floor child");
        try
        {
            string? ready = await child.StandardOutput.ReadLineAsync(cancellationToken);
            if (ready != "ready floor")
            {
                throw new InvalidOperationException($"the floor child said '{ready}'");
            }

            await Task.Delay(options.Settle, cancellationToken);
            return ResidentBytes(child.Id);
        }
        finally
        {
            child.StandardInput.Close();
            if (!child.WaitForExit(5_000))
            {
                child.Kill();
            }
        }
    }

    private static async Task LoadRedisAsync(RespClient client, int keys, byte[] value)
    {
        var batch = new List<byte[]>(LoadBatch);
        for (int start = 0; start < keys; start += LoadBatch)
        {
            batch.Clear();
            for (int i = start; i < Math.Min(keys, start + LoadBatch); i++)
            {
                batch.Add(Encoding.ASCII.GetBytes(Key(i)));
            }

            await client.SetManyAsync(batch, value);
        }
    }

    private void PrintJson(bool json, long entries, long floor, long nodeIdle, long nodeLoaded, (long Idle, long Loaded, long Used)? redis)
    {
        if (!json)
        {
            return;
        }

        output.WriteLine(JsonSerializer.Serialize(new
        {
            memory = true,
            keys = entries,
            value_size = options.ValueSize,
            data_bytes = options.DataBytes,
            runtime_floor_rss = floor,
            mirrorkv_idle_rss = nodeIdle,
            mirrorkv_loaded_rss = nodeLoaded,
            redis_idle_rss = redis?.Idle,
            redis_loaded_rss = redis?.Loaded,
            redis_used_memory = redis?.Used,
            ratio_loaded = redis is { } r ? Math.Round((double)nodeLoaded / r.Loaded, 3) : (double?)null,
        }));
    }
}
