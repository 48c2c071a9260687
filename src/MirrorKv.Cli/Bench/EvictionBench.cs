using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MirrorKv.Cli.Redis;
using MirrorKv.Client;

namespace MirrorKv.Cli.Bench;

/// <summary>What <c>mirrorkv bench --eviction POLICY</c> runs.</summary>
/// <param name="Policy">The eviction policy of both sides (redis's maxmemory-policy name).</param>
/// <param name="RegionSize">MirrorKv's --max-memory, the memory limit it has.</param>
/// <param name="Bench">Keys (the key space), value size, connections, pipeline, duration and warm-up.</param>
internal sealed record EvictionBenchOptions(string Policy, string RegionSize, BenchOptions Bench);

/// <summary>
/// <c>mirrorkv bench --eviction</c>: a store smaller than its key space, under eviction, measured by the same
/// harness on MirrorKv and (with <c>--compare redis</c>) on redis with the same policy and as many keys held:
/// SET throughput when most writes evict, and the hit ratio of a read-through cache under zipfian 0.99 keys.
/// </summary>
/// <remarks>
/// <para>Comparable memory limits: MirrorKv's <c>--max-memory</c> counts its chunks whole (slot bytes: header,
/// key and value rounded to a size class, and the free room of claimed slabs), its index and access table, where
/// redis's maxmemory counts its whole dataset with dictionary and object overhead. The bench makes the two hold the same number of keys
/// instead of the same bytes: it loads MirrorKv's key space first and reads how many entries its region
/// holds (E); redis gets E keys with no limit, its used_memory then becomes its maxmemory, the rest of the
/// key space is loaded under that limit, and the limit is nudged until redis holds E keys within 1 %. Both hold about E keys from then on (printed at the end), so the
/// hit ratios compare the policies and not the bytes per key; the bytes are printed too.</para>
/// <para>Phases, on each side in turn per round: SET of uniformly chosen keys over the whole key space (about
/// three in four are absent, so most writes evict), then the read-through cache: zipfian GETs, and a SET
/// of each key that missed; the hit ratio is the GETs that found their key over all GETs, after a warm-up of
/// three times the key space in GETs (a count, not a time, so that both sides start from the same point). The ideal printed beside it is the share of draws that fall on
/// the E most popular keys, the hit ratio of a cache that always held exactly those.</para>
/// </remarks>
internal sealed class EvictionBench(EvictionBenchOptions options, TextWriter output)
{
    private readonly BenchOptions _bench = options.Bench;

    // Read-through GETs before each measurement, all connections together: three times the key space,
    // a compromise between time and a settled cache: in a simulation of the same workload (100,000 keys), LFU,
    // the slowest to settle after the uniform SET phase, hit 78.8 % after one key space's worth and 85.3 % after six.
    private long WarmupGets => 3L * _bench.Keys;

    public async Task<int> RunAsync(bool compare, int rounds, bool json, CancellationToken cancellationToken)
    {
        BenchOptions setOptions = _bench with { Workload = BenchWorkload.Parse("set"), Distribution = "uniform" };
        var setRunner = new BenchRunner(setOptions, output);
        string[] keyNames = Enumerable.Range(0, _bench.Keys).Select(i => "key:" + i.ToString("D12", CultureInfo.InvariantCulture)).ToArray();
        byte[] value = new byte[_bench.ValueSize];
        new Random(1).NextBytes(value);

        await using PairLauncher pair = await PairLauncher.StartAsync(options.RegionSize, _bench.Replication, Console.Error, nodeLogs: Environment.GetEnvironmentVariable("MIRRORKV_BENCH_NODE_LOGS"), nodeArgs: ["--eviction", options.Policy]);
        output.WriteLine($"bench --eviction {options.Policy}: a {_bench.Replication} pair started here with --max-memory {options.RegionSize}; {_bench.Keys:N0} keys of {_bench.ValueSize} B, c={_bench.Connections} P={_bench.Pipeline}");
        var clientOptions = new MirrorKvClientOptions { EndPoints = [pair.Primary.EndPoint, pair.Secondary.EndPoint], RequestTimeout = TimeSpan.FromSeconds(10), Secret = pair.Secret, CompleteOnReceiveThread = true };
        var ours = new List<IBenchConnection>();
        var theirs = new List<IBenchConnection>();
        await using RedisPair? redis = compare ? await BenchTurns.StartRedisAsync() : null;
        try
        {
            for (int c = 0; c < _bench.Connections; c++)
            {
                ours.Add(new MirrorKvBenchConnection(await MirrorKvClient.ConnectAsync(clientOptions, cancellationToken), keyNames, value, _bench.Pipeline));
            }

            await LoadAsync([.. ours], 0, _bench.Keys);
            long held = (long)(await PrimaryStatusAsync(pair)).Entries;
            output.WriteLine($"mirrorkv: loaded the key space; the region holds {held:N0} entries ({100.0 * held / _bench.Keys:F1} % of the keys)");

            RespClient? admin = null;
            string redisLimit = "";
            if (redis is not null)
            {
                byte[][] keyBytes = keyNames.Select(k => System.Text.Encoding.ASCII.GetBytes(k)).ToArray();
                for (int c = 0; c < _bench.Connections; c++)
                {
                    theirs.Add(new RedisBenchConnection(await RespClient.ConnectAsync(redis.Port), keyBytes, value, _bench.Pipeline));
                }

                admin = await RespClient.ConnectAsync(redis.Port);
                await admin.CallAsync("CONFIG", "SET", "maxmemory-policy", options.Policy);
                await LoadAsync([.. theirs], 0, (int)Math.Min(held, _bench.Keys));
                redisLimit = (await admin.InfoAsync("memory"))["used_memory"];
                await admin.CallAsync("CONFIG", "SET", "maxmemory", redisLimit);
                await LoadAsync([.. theirs], (int)Math.Min(held, _bench.Keys), _bench.Keys);

                // used_memory is not linear in the keys (dictionary growth, allocator classes, buffers): redis may
                // hold some percent more or fewer than E under that limit. Nudge the limit by the difference at
                // the current bytes per key, and load the key space again, until the counts are within 1 %.
                for (int nudge = 0; nudge < 4; nudge++)
                {
                    long count = long.Parse(await admin.CallAsync("DBSIZE"), CultureInfo.InvariantCulture);
                    if (Math.Abs(count - held) <= held / 100)
                    {
                        break;
                    }

                    long limit = long.Parse(redisLimit, CultureInfo.InvariantCulture);
                    redisLimit = (limit - ((count - held) * limit / Math.Max(1, count))).ToString(CultureInfo.InvariantCulture);
                    await admin.CallAsync("CONFIG", "SET", "maxmemory", redisLimit);
                    await LoadAsync([.. theirs], 0, _bench.Keys);
                }

                output.WriteLine($"redis: maxmemory {long.Parse(redisLimit, CultureInfo.InvariantCulture):N0} B (its used_memory with {held:N0} keys, nudged until it holds as many); holds {await admin.CallAsync("DBSIZE")} keys after the load");
            }

            var measured = new List<Round>();
            for (int r = 0; r < rounds; r++)
            {
                Round round = new(await MeasureSideAsync("mirrorkv", [.. ours], setRunner, r, cancellationToken), redis is null ? null : await MeasureSideAsync("redis", [.. theirs], setRunner, r, cancellationToken));
                measured.Add(round);
                if (rounds > 1)
                {
                    output.WriteLine($"round {r + 1,-3} " + round);
                }
            }

            // The median round by SET ratio (or by MirrorKv's SET rate alone), printed in full.
            Round median = measured.OrderBy(m => m.Theirs is null ? m.Ours.SetsPerSecond : m.Ours.SetsPerSecond / m.Theirs.SetsPerSecond).ElementAt((measured.Count - 1) / 2);
            Protocol.NodeStatus after = await PrimaryStatusAsync(pair);
            long heldAfter = (long)after.Entries;
            if (after.Epoch > 1)
            {
                output.WriteLine($"note: the pair failed over during the run (epoch {after.Epoch}; a loaded machine can starve the lease): the promoted node started with no access history, which lowers MirrorKv's hit ratio and SET rate");
            }

            string? redisHeld = admin is null ? null : await admin.CallAsync("DBSIZE");
            double ideal = KeyChooser.TopShare((int)Math.Min(heldAfter, _bench.Keys), _bench.Keys);
            foreach (Side? side in new[] { median.Ours, median.Theirs })
            {
                if (side is not null)
                {
                    output.WriteLine(side.SetRow);
                    output.WriteLine($"{side.Target,-8} read-through zipfian 0.99: hit ratio {side.HitRatio:P2} ({side.Hits:N0} of {side.Gets:N0} GETs), {side.OpsPerSecond:N0} ops/s");
                }
            }

            output.WriteLine($"held     mirrorkv {heldAfter:N0} keys in --max-memory {options.RegionSize}" + (redisHeld is null ? "" : $"; redis {long.Parse(redisHeld, CultureInfo.InvariantCulture):N0} keys in maxmemory {long.Parse(redisLimit, CultureInfo.InvariantCulture):N0} B") + $"; key space {_bench.Keys:N0}");
            output.WriteLine($"ideal    hit ratio of a cache holding the {heldAfter:N0} most popular keys: {ideal:P2}");
            if (median.Theirs is { } other)
            {
                output.WriteLine($"ratio    set under eviction mirrorkv / redis = {median.Ours.SetsPerSecond / other.SetsPerSecond:F2}; hit ratio mirrorkv - redis = {100 * (median.Ours.HitRatio - other.HitRatio):+0.00;-0.00} points");
            }

            if (json)
            {
                output.WriteLine(JsonSerializer.Serialize(new
                {
                    eviction = options.Policy,
                    keys = _bench.Keys,
                    value_size = _bench.ValueSize,
                    max_memory = options.RegionSize,
                    redis_maxmemory = redisLimit,
                    mirrorkv_held = heldAfter,
                    ideal_hit_ratio = Math.Round(ideal, 4),
                    mirrorkv = median.Ours.ToJson(),
                    redis = median.Theirs?.ToJson(),
                }));
            }

            if (admin is not null)
            {
                await admin.DisposeAsync();
            }

            return 0;
        }
        finally
        {
            foreach (IBenchConnection c in ours.Concat(theirs))
            {
                await c.DisposeAsync();
            }
        }
    }

    // The status of whichever node is primary now: a loaded machine may have failed the pair over.
    private static async Task<Protocol.NodeStatus> PrimaryStatusAsync(PairLauncher pair)
    {
        foreach (PairLauncher.ChildNode node in pair.Nodes)
        {
            try
            {
                Protocol.NodeStatus status = await MirrorKvAdmin.GetStatusAsync(node.EndPoint, secret: pair.Secret);
                if (status.Role == Protocol.NodeRole.Primary)
                {
                    return status;
                }
            }
            catch (MirrorKvException)
            {
                // Down or rejoining: ask the other.
            }
        }

        throw new MirrorKvException(MirrorKvError.Unavailable, "neither node of the pair is primary");
    }

    // SETs keys [from, to) in order, the connections taking batches in turn.
    private async Task LoadAsync(IBenchConnection[] connections, int from, int to)
    {
        int next = from - _bench.Pipeline;
        await Task.WhenAll(connections.Select(async c =>
        {
            int start;
            while ((start = Interlocked.Add(ref next, _bench.Pipeline)) < to)
            {
                await c.SetAsync(Enumerable.Range(start, Math.Min(_bench.Pipeline, to - start)).ToArray());
            }
        }));
    }

    private async Task<Side> MeasureSideAsync(string target, IBenchConnection[] connections, BenchRunner setRunner, int round, CancellationToken cancellationToken)
    {
        await setRunner.WarmAsync(connections, TimeSpan.FromSeconds(1), cancellationToken);
        BenchResult set = (await setRunner.MeasureRowsAsync(target, connections, cancellationToken))[0];
        // The warm-up is a number of GETs, not a time: the cache's state after it depends on how many keys went
        // through it, and a side twice as fast would otherwise reach its steady state and the other not.
        await ReadThroughAsync(connections, TimeSpan.MaxValue, seed: 2 * round, cancellationToken, maxGets: WarmupGets);
        (long gets, long hits, double seconds) = await ReadThroughAsync(connections, _bench.Duration, seed: (2 * round) + 1, cancellationToken);
        return new Side(target, set.ToString(), set.OpsPerSecond, gets, hits, (gets + gets - hits) / seconds);
    }

    // Every connection runs read-through batches of zipfian keys until the time is up. The same seeds on both
    // sides, so that they draw the same key sequence; another seed for each phase, or the measurement would
    // replay the warm-up's sequence, every key of which the cache just took in (a hit ratio of ~100 %).
    private async Task<(long Gets, long Hits, double Seconds)> ReadThroughAsync(IBenchConnection[] connections, TimeSpan duration, int seed, CancellationToken cancellationToken, long maxGets = long.MaxValue)
    {
        var chooser = new KeyChooser(_bench.Keys, "zipfian");
        long gets = 0;
        long hits = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(connections.Select((c, index) => Task.Run(async () =>
        {
            var random = new Random((seed * 1009) + index + 31);
            var batch = new int[_bench.Pipeline];
            long myGets = 0;
            long myHits = 0;
            while (clock.Elapsed < duration && myGets < maxGets / connections.Length && !cancellationToken.IsCancellationRequested)
            {
                for (int i = 0; i < batch.Length; i++)
                {
                    batch[i] = chooser.Next(random);
                }

                myHits += await c.GetOrSetAsync(batch);
                myGets += batch.Length;
            }

            Interlocked.Add(ref gets, myGets);
            Interlocked.Add(ref hits, myHits);
        }, CancellationToken.None)));
        return (gets, hits, clock.Elapsed.TotalSeconds);
    }

    private sealed record Side(string Target, string SetRow, double SetsPerSecond, long Gets, long Hits, double OpsPerSecond)
    {
        public double HitRatio => Gets == 0 ? 0 : (double)Hits / Gets;

        public object ToJson() => new { set_ops_per_second = Math.Round(SetsPerSecond), hit_ratio = Math.Round(HitRatio, 4), gets = Gets, hits = Hits, read_through_ops_per_second = Math.Round(OpsPerSecond) };
    }

    private sealed record Round(Side Ours, Side? Theirs)
    {
        public override string ToString() =>
            $"mirrorkv set {Ours.SetsPerSecond,10:N0} ops/s hit {Ours.HitRatio:P2}" + (Theirs is null ? "" : $"   redis set {Theirs.SetsPerSecond,10:N0} ops/s hit {Theirs.HitRatio:P2}   set ratio {Ours.SetsPerSecond / Theirs.SetsPerSecond:F2}");
    }
}
