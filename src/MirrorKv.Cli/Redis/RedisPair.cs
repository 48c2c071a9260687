using System.Diagnostics;
using System.Globalization;
using MirrorKv.Cli.Bench;

namespace MirrorKv.Cli.Redis;

/// <summary>A redis-server with a replica attached (as MirrorKv's pair has a secondary), for comparisons.</summary>
internal sealed class RedisPair : IAsyncDisposable
{
    private readonly RedisServer _primary;
    private readonly RedisServer _replica;

    private RedisPair(RedisServer primary, RedisServer replica)
    {
        _primary = primary;
        _replica = replica;
    }

    public int Port => _primary.Port;

    /// <summary>Starts both, or returns null when redis-server is not installed.</summary>
    public static async Task<RedisPair?> StartAsync(TextWriter log)
    {
        string? path = RedisServer.Find();
        if (path is null)
        {
            return null;
        }

        RedisServer primary = await RedisServer.StartAsync(path);
        RedisServer replica = await RedisServer.StartAsync(path, "--replicaof", "127.0.0.1", primary.Port.ToString(CultureInfo.InvariantCulture));
        await using var client = await RespClient.ConnectAsync(primary.Port);
        for (int attempt = 0; attempt < 100; attempt++)
        {
            if ((await client.InfoAsync("replication")).GetValueOrDefault("connected_slaves") == "1")
            {
                return new RedisPair(primary, replica);
            }

            await Task.Delay(50);
        }

        log.WriteLine("warning: the redis replica did not attach within 5 s; comparing without it");
        return new RedisPair(primary, replica);
    }

    /// <summary>Runs the stock redis-benchmark for the same row; its ops/s, or null when it is not installed.</summary>
    public async Task<string?> RunRedisBenchmarkAsync(BenchOptions options)
    {
        string? path = RedisServer.Find("redis-benchmark");
        if (path is null)
        {
            return null;
        }

        var start = new ProcessStartInfo(path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in new[] { "-p", Port.ToString(CultureInfo.InvariantCulture), "-t", options.Operation, "-r", options.Keys.ToString(CultureInfo.InvariantCulture), "-d", options.ValueSize.ToString(CultureInfo.InvariantCulture),
            "-c", options.Connections.ToString(CultureInfo.InvariantCulture), "-P", options.Pipeline.ToString(CultureInfo.InvariantCulture), "-n", Requests(options).ToString(CultureInfo.InvariantCulture), "-q" })
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start)!;
        string text = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        string last = text.Split('\r', '\n').LastOrDefault(l => l.Contains("requests per second", StringComparison.Ordinal)) ?? text.Trim();
        return last.Trim();
    }

    // At least 100,000 requests (four per key), but no more than 1 GiB of values: 64 requests of 16 MiB.
    private static long Requests(BenchOptions options) =>
        Math.Max(16, Math.Min(Math.Max(100_000L, options.Keys * 4L), (1L << 30) / Math.Max(1, options.ValueSize)));

    public async ValueTask DisposeAsync()
    {
        await _replica.DisposeAsync();
        await _primary.DisposeAsync();
    }
}
