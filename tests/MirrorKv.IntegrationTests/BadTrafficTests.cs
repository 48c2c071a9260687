using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// A real pair serves a checked workload while another process (badtraffic) sends every kind of bad
/// traffic at both nodes: garbage, bad handshakes, malformed and out-of-bounds requests, stale epochs,
/// truncated frames, slow senders, slow readers and connection floods.
/// </summary>
[Collection(nameof(ProcessTests))]
public class BadTrafficTests
{
    // Region 64 MiB, 1024 connections of ~50 KiB, slow readers capped at 1 MiB + one frame each, the runtime:
    // well under this. Unbounded queues would blow through it (one slow reader asks for 64 MiB).
    private const long MemoryBound = 512L << 20;

    [Fact]
    public async Task Workload_SeesNoErrorAndLosesNoWrite_WhileBothNodesTakeBadTraffic()
    {
        // Run at epoch 2, so that there is an older epoch for the bad traffic to present.
        await using NodeProcess first = await NodeProcess.StartPrimaryAsync();
        await using NodeProcess primary = await NodeProcess.StartSecondaryAsync(first.EndPoint);
        await first.WaitProtectedAsync();
        await first.KillAsync();
        await PairFixtureWait(async () => (await MirrorKvAdmin.GetStatusAsync(primary.EndPoint)).Role == NodeRole.Primary);
        await using NodeProcess secondary = await NodeProcess.StartSecondaryAsync(primary.EndPoint);
        await primary.WaitProtectedAsync();

        await using MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [primary.EndPoint] });
        Assert.True(await client.WaitForSecondaryAsync());
        const int keys = 2000;
        var acknowledged = new long[keys];
        var errors = new ConcurrentQueue<string>();
        long writes = 0, reads = 0;
        using var stop = new CancellationTokenSource();
        Task writer = Task.Run(async () =>
        {
            for (long n = 1; !stop.IsCancellationRequested; n++)
            {
                int k = (int)(n % keys);
                try
                {
                    await client.SetAsync(Key(k), Value(k, n));
                    Volatile.Write(ref acknowledged[k], n);
                    Interlocked.Increment(ref writes);
                }
                catch (MirrorKvException e)
                {
                    errors.Enqueue($"write {Key(k)}: {e.Message}");
                }
            }
        });
        Task[] readers = [.. Enumerable.Range(0, 2).Select(r => Task.Run(async () =>
        {
            var random = new Random(r);
            while (!stop.IsCancellationRequested)
            {
                int k = random.Next(keys);
                long before = Volatile.Read(ref acknowledged[k]);
                try
                {
                    byte[]? got = await client.GetAsync(Key(k));
                    Interlocked.Increment(ref reads);
                    long version = got is null ? 0 : ParseVersion(k, got);
                    if (version < before)
                    {
                        errors.Enqueue($"read {Key(k)}: version {version} after {before} was acknowledged");
                    }
                }
                catch (Exception e) when (e is MirrorKvException or FormatException)
                {
                    errors.Enqueue($"read {Key(k)}: {e.Message}");
                }
            }
        }))];

        await Task.Delay(300);
        (int exitCode, string attack) = await DemoTests.RunDotnetAsync(
            NodeProcess.BuiltAssembly("tests", "MirrorKv.BadTraffic", "badtraffic.dll"), TimeSpan.FromSeconds(60),
            "8", "1", primary.EndPoint.ToString(), secondary.EndPoint.ToString());
        await stop.CancelAsync();
        await Task.WhenAll([writer, .. readers]);

        Assert.True(exitCode == 0, attack);
        Assert.True(errors.IsEmpty, $"{string.Join("\n", errors.Take(5))}\n--- primary:\n{string.Join("\n", primary.Output.Split('\n').Where(l => !l.Contains("closing connection", StringComparison.Ordinal)))}\n--- secondary:\n{string.Join("\n", secondary.Output.Split('\n').Where(l => !l.Contains("closing connection", StringComparison.Ordinal)))}");
        // Enough to show the workload ran through the whole attack; not a throughput figure (a loaded CI host made
        // 834 writes where a quiet one makes several thousand).
        Assert.True(writes > 200 && reads > 200, $"the workload must have run during the attack: {writes} writes, {reads} reads");
        foreach (string kind in new[] { "garbage.sent", "bad-handshake.sent", "malformed.sent", "truncated.sent", "slow-sender.started", "slow-reader.started", "flood.opened" })
        {
            Assert.True(Count(attack, kind) > 0, $"{kind} missing: {attack}");
        }

        for (int k = 0; k < keys; k++)
        {
            long expected = Volatile.Read(ref acknowledged[k]);
            byte[]? got = await client.GetAsync(Key(k));
            Assert.Equal(expected, got is null ? 0 : ParseVersion(k, got));
        }

        Assert.Null(await client.GetAsync("bad-traffic-key"));
        foreach (NodeProcess node in new[] { primary, secondary })
        {
            Assert.False(node.HasExited, node.Output);
            Assert.InRange(node.PeakResidentBytes(), 1, MemoryBound);
        }

        NodeStatus status = await MirrorKvAdmin.GetStatusAsync(primary.EndPoint);
        Assert.Equal((NodeRole.Primary, 2UL, true), (status.Role, status.Epoch, status.Protected));
        Assert.Contains("closing connection from", primary.Output, StringComparison.Ordinal);
        Assert.Contains("were open already", primary.Output, StringComparison.Ordinal);
    }

    private static string Key(int k) => $"bt{k}";

    private static byte[] Value(int k, long version) => Encoding.UTF8.GetBytes($"{Key(k)}:{version}:{new string('v', 64)}");

    private static long ParseVersion(int k, byte[] value)
    {
        string[] parts = Encoding.UTF8.GetString(value).Split(':');
        return parts.Length == 3 && parts[0] == Key(k) ? long.Parse(parts[1], CultureInfo.InvariantCulture) : throw new FormatException($"foreign value for {Key(k)}");
    }

    private static long Count(string tally, string kind)
    {
        string token = $" {kind}=";
        int at = tally.IndexOf(token, StringComparison.Ordinal);
        return at < 0 ? 0 : long.Parse(tally[(at + token.Length)..].Split(' ', '\n')[0].Trim(), CultureInfo.InvariantCulture);
    }

    private static async Task PairFixtureWait(Func<Task<bool>> condition)
    {
        for (int i = 0; i < 200 && !await condition(); i++)
        {
            await Task.Delay(20);
        }

        Assert.True(await condition());
    }
}
