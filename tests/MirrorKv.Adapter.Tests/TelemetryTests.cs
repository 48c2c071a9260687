using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using MirrorKv.Client;

namespace MirrorKv.Adapter.Tests;

/// <summary>The MirrorKv meter and activity source report what the client and the nodes do.</summary>
public class TelemetryTests
{
    private const string TestSourceName = "MirrorKv.Tests.Telemetry";
    private ActivitySpanId _parentSpan;

    [Fact]
    public async Task ClientAndServerInstruments_ReportOperations_AndSpansCarryDbTags()
    {
        var measurements = new ConcurrentBag<(string Instrument, double Value, Dictionary<string, object?> Tags)>();
        using var meters = new MeterListener();
        meters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == MirrorKvTelemetry.Name)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        meters.SetMeasurementEventCallback<double>((i, v, tags, _) => measurements.Add((i.Name, v, ToDictionary(tags))));
        meters.SetMeasurementEventCallback<long>((i, v, tags, _) => measurements.Add((i.Name, v, ToDictionary(tags))));
        meters.SetMeasurementEventCallback<int>((i, v, tags, _) => measurements.Add((i.Name, v, ToDictionary(tags))));
        meters.Start();
        var spans = new ConcurrentBag<Activity>();
        using var activities = new ActivityListener
        {
            ShouldListenTo = source => source.Name is MirrorKvTelemetry.Name or TestSourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        ActivitySource.AddActivityListener(activities);

        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync();

        // Other tests of this assembly run in parallel on look-alike endpoints: a parent span tells this
        // test's client spans from theirs.
        using var testSource = new ActivitySource(TestSourceName);
        using (Activity parent = testSource.StartActivity("telemetry test")!)
        {
            await client.SetAsync("telemetry", "value"u8.ToArray());
            Assert.NotNull(await client.GetAsync("telemetry"));
            Assert.Null(await client.GetAsync("absent"));
            await client.SetManyAsync(["b1", "b2", "b3"], ["1"u8.ToArray(), "2"u8.ToArray(), "3"u8.ToArray()]);
            Assert.Equal(3, (await client.GetManyAsync(["b1", "b2", "b3"])).Count(v => v is not null));
            _parentSpan = parent.SpanId;
        }

        meters.RecordObservableInstruments();

        Assert.Contains(measurements, m => m.Instrument == "db.client.operation.duration" && Equals(m.Tags["db.operation.name"], "GET") && Equals(m.Tags["db.system.name"], "mirrorkv") && m.Value > 0);
        Assert.Contains(measurements, m => m.Instrument == "db.client.operation.duration" && Equals(m.Tags["db.operation.name"], "SET"));
        Assert.Contains(measurements, m => m.Instrument == "mirrorkv.client.reads" && m.Value >= 1);
        // Tallied per receive batch and added at its end, before the replies go out: exact once a reply is in.
        bool At(Dictionary<string, object?> tags, MirrorKvNode node) => Equals(tags["server.address"], node.EndPoint.Address.ToString()) && Equals(tags["server.port"], node.EndPoint.Port);
        bool Operation(Dictionary<string, object?> tags, string name) => Equals(tags["db.operation.name"], name);
        Assert.Contains(measurements, m => m.Instrument == "mirrorkv.server.operations" && At(m.Tags, pair.Primary) && Operation(m.Tags, "READ") && m.Value == client.Stats.Reads && m.Value >= 1);
        Assert.Contains(measurements, m => m.Instrument == "mirrorkv.server.read.io" && At(m.Tags, pair.Primary) && m.Value >= client.Stats.Reads * 16);
        Assert.Contains(measurements, m => m.Instrument == "mirrorkv.server.operations" && At(m.Tags, pair.Primary) && Operation(m.Tags, "WRITE") && m.Value == 4);
        Assert.Contains(measurements, m => m.Instrument == "mirrorkv.server.operations" && At(m.Tags, pair.Secondary) && Operation(m.Tags, "WRITE") && m.Value == 0);
        Assert.Contains(measurements, m => m.Instrument == "mirrorkv.server.protected" && At(m.Tags, pair.Primary) && m.Value == 1);
        Assert.Contains(measurements, m => m.Instrument == "mirrorkv.server.replication.lsn" && At(m.Tags, pair.Secondary) && m.Value >= 1);
        Assert.Contains(measurements, m => m.Instrument == "mirrorkv.server.entry.count" && At(m.Tags, pair.Primary) && m.Value == 4);
        Assert.Contains(measurements, m => m.Instrument == "mirrorkv.server.memory.usage" && At(m.Tags, pair.Primary) && m.Value > 0);
        Assert.Contains(measurements, m => m.Instrument == "mirrorkv.server.memory.limit" && At(m.Tags, pair.Primary) && m.Value == (double)pair.Primary.Store.Options.MaxMemory);
        // The role as a state set: 1 for the node's role (other tests' look-alike nodes are recorded too,
        // so the one-role-per-node check is made on a real process, in MetricsEndPointTests).
        Assert.Contains(measurements, m => m.Instrument == "mirrorkv.server.role" && At(m.Tags, pair.Primary) && Equals(m.Tags["mirrorkv.role"], "primary") && m.Value == 1);
        Assert.Contains(measurements, m => m.Instrument == "mirrorkv.server.role" && At(m.Tags, pair.Secondary) && Equals(m.Tags["mirrorkv.role"], "secondary") && m.Value == 1);
        Assert.DoesNotContain(measurements, m => m.Instrument.StartsWith("mirrorkv.server.", StringComparison.Ordinal) && m.Tags.ContainsKey("mirrorkv.role") && m.Instrument != "mirrorkv.server.role");
        // Batches carry their size, as the conventions ask of operations on two or more keys; single keys do not.
        Activity[] batches = [.. spans.Where(a => a.OperationName is "SET_MANY" or "GET_MANY" && a.ParentSpanId == _parentSpan)];
        Assert.Equal(2, batches.Length);
        Assert.All(batches, a => Assert.Equal(3, a.GetTagItem("db.operation.batch.size")));
        Assert.All(spans.Where(a => a.OperationName is "GET" or "SET" && a.ParentSpanId == _parentSpan), a => Assert.Null(a.GetTagItem("db.operation.batch.size")));
        Assert.Contains(measurements, m => m.Instrument == "db.client.operation.duration" && Equals(m.Tags["db.operation.name"], "SET_MANY") && Equals(m.Tags.GetValueOrDefault("db.operation.batch.size"), 3));
        Assert.DoesNotContain(measurements, m => m.Instrument == "db.client.operation.duration" && Equals(m.Tags["db.operation.name"], "GET") && m.Tags.ContainsKey("db.operation.batch.size"));
        Activity[] gets = [.. spans.Where(a => a.OperationName == "GET" && a.ParentSpanId == _parentSpan)];
        Assert.Equal(2, gets.Length);
        Activity get = gets[0];
        Assert.Equal(ActivityKind.Client, get.Kind);
        Assert.Equal("mirrorkv", get.GetTagItem("db.system.name"));
    }

    [Fact]
    public async Task ClientLogs_FailoverTableRewriteAndPromotion()
    {
        var lines = new ConcurrentQueue<string>();
        using var loggers = new CapturingLoggerFactory(lines);
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync(loggers: loggers);
        await client.SetAsync("logged", "v"u8.ToArray());

        pair.Network.Crash(PairFixture.PrimaryAddress);
        Assert.NotNull(await client.GetAsync("logged"));
        await client.SetAsync("after", "w"u8.ToArray());

        await Waits.UntilAsync(() => lines.Any(l => l.Contains("table rewritten", StringComparison.Ordinal)));
        Assert.Contains(lines, l => l.StartsWith("Warning MirrorKv primary", StringComparison.Ordinal) && l.Contains("reads move to the secondary", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains($"writes follow the promoted node {pair.Secondary.EndPoint} (epoch 2)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ClientLogsAndRaisesProtectedAgain_WhenANewSecondaryHasCaughtUpAfterAFailover()
    {
        var lines = new ConcurrentQueue<string>();
        using var loggers = new CapturingLoggerFactory(lines);
        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync(loggers: loggers);
        var protectedAgain = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        bool primaryProtectedWhenRaised = false;
        client.ProtectedAgain += unprotected =>
        {
            primaryProtectedWhenRaised = pair.Secondary.IsProtected;
            protectedAgain.TrySetResult(unprotected);
        };
        for (int i = 0; i < 200; i++)
        {
            await client.SetAsync($"p{i}", "v"u8.ToArray());
        }

        pair.Network.Crash(PairFixture.PrimaryAddress);
        await client.SetAsync("after", "w"u8.ToArray());
        Assert.False(pair.Secondary.IsProtected);

        // The primary goes on alone for a while, acknowledging writes throughout (each a reply the client read while
        // the pair was unprotected): nothing may say "protected" yet.
        var alone = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; alone.Elapsed < TimeSpan.FromMilliseconds(800) || i < 20; i++)
        {
            await client.SetAsync($"alone{i}", "a"u8.ToArray());
        }

        Assert.False(pair.Secondary.IsProtected);
        Assert.False(protectedAgain.Task.IsCompleted);

        await using MirrorKvNode third = await PairFixture.StartSecondaryAsync(pair.Network, ThirdAddress, pair.Secondary.EndPoint);
        TimeSpan unprotected = await protectedAgain.Task.WaitAsync(TimeSpan.FromSeconds(15), TestContext.Current.CancellationToken);
        Assert.True(pair.Secondary.IsProtected);
        Assert.True(primaryProtectedWhenRaised, "ProtectedAgain was raised while the primary had no in-sync secondary");
        Assert.True(unprotected >= TimeSpan.FromMilliseconds(800), $"unprotected for {unprotected}");
        Assert.Contains(lines, l => l.StartsWith("Information MirrorKv pair protected again", StringComparison.Ordinal) && l.Contains($"primary {pair.Secondary.EndPoint} (epoch 2) has the in-sync secondary {third.EndPoint}", StringComparison.Ordinal));
    }

    private static readonly System.Net.IPAddress ThirdAddress = System.Net.IPAddress.Parse("127.0.0.33");

    private static Dictionary<string, object?> ToDictionary(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var result = new Dictionary<string, object?>();
        foreach (KeyValuePair<string, object?> tag in tags)
        {
            result[tag.Key] = tag.Value;
        }

        return result;
    }
}
